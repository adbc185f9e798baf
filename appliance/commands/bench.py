"""`agma bench [NAME ...] [--json]`: timings measured side by side in one run (appliance/bench/)."""
from __future__ import annotations

import platform
import sys

from .. import bench
from ..errors import UsageError
from ..output import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("bench", parents=[common], help="measure the stages (median µs per frame pair)")
    p.add_argument("names", nargs="*", metavar="NAME", help="benches to run (default: all but those run only when named: daemon, camera, fleet, soak)")
    p.add_argument("--repeat", type=int, default=200, help="timed repetitions per row")
    p.add_argument("--onnx", metavar="F.onnx", help="model for the engine rows (inference alone and everything else)")
    p.add_argument("--engine", metavar="F.engine", help="engine bench: a TensorRT engine too (batch 2 and 4, the pose "
                   "stage with the device decode, host time outside inference; the box only)")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="soak: frame pairs through the runtime (default 108000: an hour at 30 FPS)")
    p.add_argument("--check", action="store_true", help="preprocess: compare the GPU preprocessing kernel with the "
                   "OpenCV path (on the host shim, and on the GPU where there is one); exit 1 when it is off")
    p.add_argument("--db", metavar="PATH", help="soak: keep the database here (default: a temporary file)")
    p.add_argument("--boxes", type=int, default=50, metavar="N", help="fleet: simulated boxes on the one broker")
    p.add_argument("--seconds", type=float, default=20.0, metavar="S", help="fleet: how long the ward watches them")
    p.set_defaults(handler=run)


def run(args) -> int:
    reg = bench.load()
    names = args.names or bench.default_names()
    unknown = [n for n in names if n not in reg]
    if unknown:
        raise UsageError(f"unknown bench {', '.join(unknown)}; known: {', '.join(sorted(reg))}")
    results = {}
    for name in names:
        rows = reg[name](args)
        results[name] = rows
        if not args.json:
            print(f"[{name}]")
            for row in rows:
                extra = "  ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                  for k, v in row.items() if k not in ("name", "median_us"))
                med = row.get("median_us")
                med_s = f"{med:10.1f} µs" if isinstance(med, (int, float)) else f"{'n/a':>13}"
                print(f"  {row['name']:<40} {med_s}  {extra}")
    if args.json:
        emit_json({"machine": platform.machine(), "python": platform.python_version(), "benches": results})
    failed = [f"{name}/{row['name']}" for name, rows in results.items() for row in rows if row.get("passed") is False]
    if failed:
        print(f"agma bench: check failed: {', '.join(failed)}: passed is false (its row says by how much)",
              file=sys.stderr)
        return 1
    return 0
