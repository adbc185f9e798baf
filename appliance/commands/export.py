"""`agma export SESSION_ID --format csv|c3d|npz -o PATH [--wide]`: one session for analysis tools."""
from __future__ import annotations

import sys
import time

from ..output import emit_json
from .sessions import db_path


def register(sub, common) -> None:
    p = sub.add_parser("export", parents=[common], help="export one session as CSV, C3D or NPZ",
                       description="Export one session (from the database or a dump given with --db): CSV in a tidy "
                                   "long layout (one row per frame and joint; --wide: one row per frame), C3D (the 17 "
                                   "joints as labelled points in mm; parts of at most 54,000 frames; timestamps in "
                                   "<stem>.t_ns.csv), or NPZ (NumPy arrays).")
    p.add_argument("session", metavar="SESSION_ID", help="session uid (see agma sessions)")
    p.add_argument("--format", required=True, choices=("csv", "c3d", "npz"), help="output format")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="output file ending in .csv, .c3d or .npz as --format (C3D parts: <stem>.partNN.c3d); "
                        "an existing file is replaced")
    p.add_argument("--wide", action="store_true", help="CSV: one row per frame instead of one per frame and joint")
    p.add_argument("--db", metavar="PATH", help="SQLite database or dump (store.db)")
    p.set_defaults(handler=run)


def check_output(fmt: str, output: str) -> None:
    """-o names a file whose extension is the format's (.csv, .c3d, .npz), and is not a folder.

    Checked before the database is opened, so a mistyped -o never leaves a half-written file: a
    C3D written to x.csv would be read as text by the next tool, and np.savez would quietly add
    .npz to a name without it.
    """
    from pathlib import Path

    from ..errors import UsageError

    path = Path(output)
    if path.is_dir():
        raise UsageError(f"-o names the output file; {path} is a folder (e.g. -o {path / ('session.' + fmt)})")
    if path.suffix.lower() != f".{fmt}":
        got = f"ends in {path.suffix}" if path.suffix else "has no extension"
        raise UsageError(f"--format {fmt} writes a .{fmt} file; -o {path} {got} (e.g. -o {path.with_suffix('.' + fmt)})")


def run(args) -> int:
    from ..errors import UsageError
    from ..store.export import export_session
    from ..store.listing import open_readonly

    if args.wide and args.format != "csv":
        raise UsageError("--wide applies to --format csv only")
    check_output(args.format, args.output)
    db = db_path(args)
    t0 = time.perf_counter()
    conn = open_readonly(db)
    try:
        paths = export_session(conn, args.session, args.format, args.output, wide=args.wide, db_path=db)
    finally:
        conn.close()
    elapsed = time.perf_counter() - t0
    print(f"exported {args.session} as {args.format} in {elapsed:.2f} s", file=sys.stderr)
    if args.json:
        emit_json({"session_id": args.session, "format": args.format, "wide": args.wide,
                   "paths": [str(p) for p in paths], "elapsed_s": elapsed})
    else:
        for p in paths:
            print(p)
    return 0
