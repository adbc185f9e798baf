"""`agma dump SESSION_ID -o FILE.sqlite` / `agma dump --new -o DIR`: standalone per-session SQLite files;
`agma dump --ack UID...`: those sessions' dumps have been pulled off the box.

``--ack`` writes to the database, which has one writer: the daemon when it runs. So it goes through
the daemon's control socket when a daemon answers there (the daemon writes it through its store
writer, like everything else it records; a second connection writing beside it could hold SQLite's
lock while the recorder commits, and a recorder that waits too long counts as failed); only when no
daemon runs does it take the write lock itself (store/lock.py: refused, one line, while `agma
record` holds it) and write through a writer of its own.
"""
from __future__ import annotations

import sys

from .. import config as config_mod
from ..errors import UsageError
from ..output import emit_json
from .sessions import db_path


def register(sub, common) -> None:
    p = sub.add_parser("dump", parents=[common], help="write sessions as standalone SQLite files",
                       description="Write one session (SESSION_ID, its uid) as a standalone SQLite file holding only "
                                   "that session plus a data_dictionary table, and print its sha256; or, with --new, "
                                   "write every closed session whose dump is not already in DIR with a matching "
                                   "<uid>.sqlite.sha256. Consistent while another session is being recorded. With "
                                   "--ack, say that sessions' dumps have been pulled off the box: retention may then "
                                   "delete them store.keep_days after they ended (docs/durability.md, Retention).")
    p.add_argument("session", nargs="?", metavar="SESSION_ID", help="session uid (see agma sessions)")
    p.add_argument("--new", action="store_true", help="every closed session not already dumped in the -o folder")
    p.add_argument("--not-pulled", action="store_true", help="--new: only sessions whose dump has not been pulled yet "
                                                             "(acknowledged, or removed from store.dump_dir)")
    p.add_argument("-o", "--output", metavar="PATH", help="FILE.sqlite, or a folder with --new")
    p.add_argument("--ack", nargs="+", metavar="UID", help="these sessions' dumps have been pulled (through the running "
                                                           "daemon, else directly); no -o")
    p.add_argument("--db", metavar="PATH", help="SQLite database (store.db)")
    p.add_argument("--socket", metavar="PATH", help="--ack: the daemon's control socket (daemon.socket)")
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

    if args.ack:
        if args.session or args.new or args.output or args.force or args.not_pulled:
            raise UsageError("--ack takes session uids only (no SESSION_ID, --new, -o, --force or --not-pulled)")
        return _ack(args)
    if args.socket:
        raise UsageError("--socket goes with --ack")
    if args.not_pulled and not args.new:
        raise UsageError("--not-pulled goes with --new")
    if bool(args.session) == bool(args.new):
        raise UsageError("give either SESSION_ID or --new (or --ack UID...)")
    if not args.output:
        raise UsageError("-o is required: FILE.sqlite, or a folder with --new")
    db = db_path(args)
    out = Path(args.output)
    if args.new:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--new writes into a folder; {out} is a file")
        outcomes = dump_new(db, out, not_pulled=args.not_pulled)
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


def _ack(args) -> int:
    """`agma dump --ack UID...`: through the daemon's socket when one answers, else under the write lock."""
    from ..runtime.factories import socket_path
    from ..status.control_socket import DaemonNotRunning, request
    from ..store.listing import open_readonly

    cfg = config_mod.load(args.config, {"store.db": (args.db, "command line --db"),
                                        "daemon.socket": (args.socket, "command line --socket")})
    db = cfg.db_path
    open_readonly(db).close()  # a missing or foreign database: one line, before anything else
    sock = socket_path(cfg)
    answers: list[dict] = []
    via = "daemon"
    try:
        for uid in args.ack:
            answers.append({"session_id": uid, **request(sock, {"action": "ack", "session_id": uid}, timeout_s=60.0)})
    except DaemonNotRunning:
        via = "database"
        answers = _ack_directly(cfg, db, args.ack)
    failed = 0
    for a in answers:
        uid = a["session_id"]
        if not a.get("ok"):
            failed += 1
            print(f"agma dump --ack: {uid}: {a.get('error', 'refused')}", file=sys.stderr)
            continue
        keep = a.get("keep_days", cfg["store.keep_days"])
        a["delete_after_ns"] = a["ended_at_ns"] + keep * 86_400 * 10**9 if keep > 0 else None
        if not args.json:
            first = (f"{uid}: already counted as pulled ({a['pulled_by']}) on {_day(a['pulled_at_ns'])}" if a.get("already")
                     else f"{uid}: acknowledged as pulled")
            then = (f"; retention deletes it from {_day(a['delete_after_ns'])} on (store.keep_days {keep})" if keep > 0
                    else "; kept (store.keep_days is 0)")
            print(first + then)
    if args.json:
        emit_json({"db": str(db), "via": via, "acks": answers})
    if failed and len(answers) > 1:
        print(f"agma dump --ack: {failed} of {len(answers)} not acknowledged", file=sys.stderr)
    return 1 if failed else 0


def _ack_directly(cfg, db, uids) -> list[dict]:
    """No daemon: take the write lock with a writer of our own (DatabaseLocked: one line, while another holds it)."""
    from ..errors import AgmaError
    from ..store import retention
    from ..store.writer import StoreWriter

    w = StoreWriter(db, queue_events=cfg["mqtt.enabled"])
    w.start()
    out = []
    try:
        for uid in uids:
            try:
                ack = w.call(lambda conn, uid=uid: retention.acknowledge(conn, uid, db))
            except AgmaError as exc:
                out.append({"session_id": uid, "ok": False, "error": str(exc)})
                continue
            out.append({"session_id": uid, "ok": True, "already": ack.already, "pulled_by": ack.pulled_by,
                        "pulled_at_ns": ack.pulled_at_ns, "ended_at_ns": ack.ended_at_ns,
                        "keep_days": cfg["store.keep_days"]})
    finally:
        w.stop()
    return out


def _day(t_ns: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
