"""`agma dump SESSION_ID -o FILE.sqlite` / `agma dump --new -o DIR`: standalone per-session SQLite files."""
from __future__ import annotations

import sys

from ..cli import emit_json
from ..errors import UsageError
from .sessions import db_path


def register(sub, common) -> None:
    p = sub.add_parser("dump", parents=[common], help="write sessions as standalone SQLite files",
                       description="Write one session (SESSION_ID, its uid) as a standalone SQLite file holding only "
                                   "that session plus a data_dictionary table, and print its sha256; or, with --new, "
                                   "write every closed session whose dump is not already in DIR with a matching "
                                   "<uid>.sqlite.sha256. Consistent while another session is being recorded.")
    p.add_argument("session", nargs="?", metavar="SESSION_ID", help="session uid (see agma sessions)")
    p.add_argument("--new", action="store_true", help="every closed session not already dumped in the -o folder")
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="FILE.sqlite, or a folder with --new")
    p.add_argument("--db", metavar="PATH", help="SQLite database (store.db)")
    p.set_defaults(handler=run)


def run(args) -> int:
    from pathlib import Path

    from ..store.dump import dump_new, dump_session

    if bool(args.session) == bool(args.new):
        raise UsageError("give either SESSION_ID or --new")
    db = db_path(args)
    out = Path(args.output)
    if args.new:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--new writes into a folder; {out} is a file")
        outcomes = dump_new(db, out)
        for o in outcomes:
            if o.status == "written" and not args.json:
                print(f"{o.sha256}  {o.path}")
        written = sum(o.status == "written" for o in outcomes)
        print(f"dump --new: {written} written, {len(outcomes) - written} already present in {out}", file=sys.stderr)
        if args.json:
            emit_json({"dir": str(out), "db": str(db), "dumps": [
                {"session_id": o.session_id, "path": str(o.path), "status": o.status, "sha256": o.sha256,
                 "elapsed_s": o.elapsed_s} for o in outcomes]})
        return 0
    if out.is_dir():
        raise UsageError(f"-o names the dump file; {out} is a folder (use --new to fill a folder)")
    r = dump_session(db, args.session, out)
    print(f"dumped {r.session_id}: {r.frames} frames, {r.bytes / 1e6:.1f} MB in {r.elapsed_s:.2f} s", file=sys.stderr)
    if args.json:
        emit_json({"session_id": r.session_id, "path": str(r.path), "sha256": r.sha256, "bytes": r.bytes,
                   "frames": r.frames, "elapsed_s": r.elapsed_s, "db": str(db)})
    else:
        print(f"{r.sha256}  {r.path}")
    return 0
