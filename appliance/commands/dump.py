"""`agma dump SESSION_ID -o FILE.sqlite` / `agma dump --new -o DIR`: standalone per-session SQLite files."""
from __future__ import annotations

import sys

from ..errors import UsageError
from ..output import emit_json
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
    p.add_argument("--force", action="store_true", help="SESSION_ID: replace an existing -o file (else refused)")
    p.set_defaults(handler=run)


def _open_sessions(db) -> list[str]:
    """uids of the sessions without an end_reason (recording now, or awaiting crash recovery)."""
    from ..store.listing import open_readonly

    conn = open_readonly(db)
    try:
        return [r[0] for r in conn.execute("SELECT uid FROM sessions WHERE end_reason IS NULL ORDER BY started_at_ns, id")]
    finally:
        conn.close()


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
        open_uids = _open_sessions(db)
        if open_uids:  # dump_new takes closed sessions only: say which were left for later
            print(f"dump --new: {len(open_uids)} open session{'s' * (len(open_uids) > 1)} not dumped (still recording, "
                  f"or interrupted and not yet recovered; dumped once ended): {', '.join(open_uids)}", file=sys.stderr)
        for o in outcomes:
            if o.status == "written" and not args.json:
                print(f"{o.sha256}  {o.path}")
            elif o.status == "failed":  # one line each; the other sessions were still dumped
                print(f"dump --new: session {o.session_id} not dumped: {o.error}", file=sys.stderr)
        count = {k: sum(o.status == k for o in outcomes) for k in ("written", "present", "failed")}
        print(f"dump --new: {count['written']} written, {count['present']} already present"
              + (f", {count['failed']} failed" if count["failed"] else "") + f" in {out}", file=sys.stderr)
        if args.json:
            emit_json({"dir": str(out), "db": str(db), "skipped_open": open_uids, "dumps": [
                {"session_id": o.session_id, "path": str(o.path), "status": o.status, "sha256": o.sha256,
                 "elapsed_s": o.elapsed_s, **({"error": o.error} if o.error else {})} for o in outcomes]})
        return 1 if count["failed"] else 0
    if out.is_dir():
        raise UsageError(f"-o names the dump file; {out} is a folder (use --new to fill a folder)")
    if out.exists() and not args.force:
        raise UsageError(f"{out} already exists; add --force to replace it")
    r = dump_session(db, args.session, out)
    print(f"dumped {r.session_id}: {r.frames} frames, {r.bytes / 1e6:.1f} MB in {r.elapsed_s:.2f} s", file=sys.stderr)
    if args.json:
        emit_json({"session_id": r.session_id, "path": str(r.path), "sha256": r.sha256, "bytes": r.bytes,
                   "frames": r.frames, "elapsed_s": r.elapsed_s, "db": str(db)})
    else:
        print(f"{r.sha256}  {r.path}")
    return 0
