"""`agma record`: run one session from the configured source to the database and print a summary."""
from __future__ import annotations

import signal
import sys

from .. import config as config_mod
from ..cli import emit_json
from ..errors import UsageError

FLAG_KEYS = {  # flag dest -> config key path
    "source": "capture.source",
    "replay": "capture.replay_dir",
    "db": "store.db",
    "seed": "sim.seed",
    "sim_noise_px": "sim.noise_px",
    "model": "pose.model",
    "decoder": "pose.decoder",
    "box_id": "box.id",
    "bed_label": "box.bed_label",
}


def register(sub, common) -> None:
    p = sub.add_parser("record", parents=[common], help="record one session and print its summary",
                       description="Record one session: capture, pose, triangulate, store; then print a summary.")
    p.add_argument("--source", help="synthetic (default), uvc, replay")
    p.add_argument("--replay", metavar="DIR", help="folder to replay (capture.replay_dir; implies --source replay)")
    p.add_argument("--write-replay", metavar="DIR",
                   help="also write the frames (images, calibration, ground truth) to a new replay folder; "
                        "the only way images reach the disk")
    p.add_argument("--duration", type=float, metavar="S", help="seconds of recording at the source's rate (exactly fps*S frames)")
    p.add_argument("--as-fast-as-possible", action="store_true",
                   help="offline: every stage waits for the next instead of dropping frames")
    p.add_argument("--db", metavar="PATH", help="SQLite database (store.db)")
    p.add_argument("--seed", type=int, help="seed of the synthetic scene and simulated noise (sim.seed)")
    p.add_argument("--sim-noise-px", type=float, metavar="PX", help="simulated model's 2D noise, px per axis (sim.noise_px)")
    p.add_argument("--model", help="simulated, onnx:PATH or tensorrt:PATH (pose.model)")
    p.add_argument("--decoder", help="dark or standard (pose.decoder)")
    p.add_argument("--box-id", help="box name (box.id)")
    p.add_argument("--bed-label", help="bed label (box.bed_label)")
    p.set_defaults(handler=run)


def load_config(args):
    overrides = {key: (getattr(args, dest), f"command line --{dest.replace('_', '-')}")
                 for dest, key in FLAG_KEYS.items()}
    return config_mod.load(args.config, overrides)


class _ProgressLine:
    def __init__(self, total: int | None) -> None:
        self.total, self.tty = total, sys.stderr.isatty()

    def __call__(self, p) -> None:
        total = f"/{self.total}" if self.total else ""
        line = (f"recording: {p.stored}{total} frames stored, {p.dropped} dropped, "
                f"{p.stored / p.elapsed_s if p.elapsed_s else 0:.1f} fps, {p.elapsed_s:.0f} s")
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def run(args) -> int:
    from ..capture import open_source
    from ..pose.stage import build as build_pose
    from ..session import RecordRequest, Recorder

    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    if args.replay and not args.source:
        args.source = "replay"
    cfg = load_config(args)
    source = open_source(cfg, args.duration, args.as_fast_as_possible, write_replay=args.write_replay)
    pose = build_pose(cfg, source)
    recorder = Recorder(cfg, source, pose, RecordRequest(args.duration, args.as_fast_as_possible))
    old = {sig: signal.signal(sig, lambda s, f, r=reason: recorder.request_stop(r))
           for sig, reason in ((signal.SIGINT, "stopped"), (signal.SIGTERM, "shutdown"))}
    progress = None if args.json else _ProgressLine(None if args.duration is None else int(round(cfg["capture.fps"] * args.duration)))
    try:
        summary = recorder.run(progress)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if progress:
            progress.finish()
    if args.json:
        emit_json(summary)
    else:
        print(format_summary(summary))
    if summary["end_reason"] in ("error", "disk_full"):
        print(f"agma record: session {summary['session_id']} ended early ({summary['end_reason']}): {summary['error']}; "
              f"{summary['frames']} committed frames are kept in {summary['db']}", file=sys.stderr)
        return 1
    return 0


def format_summary(s: dict) -> str:
    lines = [
        f"session      {s['session_id']}",
        f"ended        {s['end_reason']}" + (f" ({s['error']})" if s.get("error") else ""),
        f"frames       {s['frames']} stored, {s['dropped_frames']} dropped, {s['fps']:.1f} fps achieved",
        f"valid joints {100 * s['valid_joint_ratio']:.1f} %",
        f"database     {s['db']}",
        f"dump         {s['dump'] or '(none)'}",
    ]
    a = s.get("accuracy")
    if a:
        lines += [
            "accuracy against ground truth (paper: retrained DarkPose32, 18,000 stereo test pairs)",
            f"  3D mean error   {a['mean_mm']:.1f} mm, STD {a['std_mm']:.1f} mm over valid joints ({100 * a['valid_ratio']:.1f} %)"
            f"   paper 17.2 mm, STD 23.1 mm",
            f"  3DPCK           @1cm {a['pck_10mm']:.1f}  @2.5cm {a['pck_25mm']:.1f}  @5cm {a['pck_50mm']:.1f}  "
            f"@10cm {a['pck_100mm']:.1f} %   paper 40.5 / 83.1 / 97.3 / 99.5",
            f"  2D PCK (torso)  @0.05 {a['pck2d_05']:.1f}  @0.1 {a['pck2d_10']:.1f}  @0.2 {a['pck2d_20']:.1f} %"
            f"   paper 68.1 / 91.4 / 98.3",
            f"  2D mean error   {a['mean_2d_px']:.2f} px over valid joints, both views",
            "  per joint group  " + "".join(f"{g:>10}" for g in a["per_group"]),
        ]
        for key, label, fmt in (("mean_mm", "mean (mm)", "{:10.1f}"), ("std_mm", "STD (mm)", "{:10.1f}"),
                                ("pck_10mm", "3DPCK@1cm", "{:10.1f}"), ("pck_25mm", "3DPCK@2.5cm", "{:10.1f}"),
                                ("pck_50mm", "3DPCK@5cm", "{:10.1f}"), ("pck_100mm", "3DPCK@10cm", "{:10.1f}")):
            lines.append(f"  {label:<16}" + "".join(fmt.format(v[key]) if v[key] == v[key] else f"{'-':>10}"
                                                   for v in a["per_group"].values()))
    return "\n".join(lines)
