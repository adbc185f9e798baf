"""`agma db docs|schema`: the database contract (Markdown reference, or the SQL)."""
from __future__ import annotations

from ..output import emit_json
from ..store import schema


def register(sub, common) -> None:
    p = sub.add_parser("db", parents=[common], help="document the database contract",
                       description="docs: the column reference (docs/database.md, Markdown); schema: every SQL "
                                   "statement a fresh database gets, loadable as is (agma db schema | sqlite3 new.db). "
                                   "--json: {\"markdown\": ...} or {\"statements\": [...]}.")
    p.add_argument("action", choices=("docs", "schema"),
                   help="docs: column reference (Markdown); schema: the CREATE and fixed-row statements")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.action == "docs":
        text = schema.docs_markdown()
        if args.json:
            emit_json({"markdown": text})
        else:
            print(text, end="")
        return 0
    statements = schema.schema_statements()
    if args.json:
        emit_json({"schema_version": schema.SCHEMA_VERSION, "statements": statements})
    else:
        print("\n\n".join(statements))
    return 0
