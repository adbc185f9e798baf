"""`agma sessions [--db PATH] [--json]`: the sessions in a database (the box's, or a dump), oldest first."""
from __future__ import annotations

from .. import config as config_mod
from ..output import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("sessions", parents=[common], help="list the recorded sessions",
                       description="List the sessions in the database: uid, bed label, start (UTC), duration, "
                                   "frames, valid-joint ratio, end reason, model. Read-only; safe while recording.")
    p.add_argument("--db", metavar="PATH", help="SQLite database or dump (store.db)")
    p.set_defaults(handler=run)


def db_path(args):
    """The database a reading command uses: --db, else the configuration's store.db."""
    return config_mod.load(args.config, {"store.db": (args.db, "command line --db")}).db_path


def run(args) -> int:
    from ..store.listing import format_table, list_sessions, open_readonly

    db = db_path(args)
    conn = open_readonly(db)
    try:
        sessions = list_sessions(conn, db)
    finally:
        conn.close()
    if args.json:
        emit_json(sessions)
    elif sessions:
        print(format_table(sessions))
    else:
        print("no sessions")
    return 0
