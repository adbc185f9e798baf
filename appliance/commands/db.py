"""`agma db docs|schema`: the database contract (Markdown reference, or the SQL)."""
from __future__ import annotations

from ..store import schema


def register(sub, common) -> None:
    p = sub.add_parser("db", parents=[common], help="document the database contract")
    p.add_argument("action", choices=("docs", "schema"), help="docs: column reference (Markdown); schema: the CREATE statements")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.action == "docs":
        print(schema.docs_markdown(), end="")
    else:
        print("\n\n".join([t.ddl() for t in schema.TABLES] + [schema.TRAJECTORY_VIEW]))
    return 0
