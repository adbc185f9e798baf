"""`agma config show|check|docs`: the effective configuration, a validity check, the key reference."""
from __future__ import annotations

from .. import config as config_mod
from ..cli import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="show, check or document the configuration")
    p.add_argument("action", choices=("show", "check", "docs"),
                   help="show: effective values and where each came from; check: validate only; docs: key reference (Markdown)")
    p.set_defaults(handler=run)


def run(args) -> int:
    if args.action == "docs":
        print(config_mod.docs_markdown(), end="")
        return 0
    cfg = config_mod.load(args.config)
    if args.action == "check":
        if args.json:
            emit_json({"ok": True, "file": cfg.file})
        else:
            print(f"configuration ok ({cfg.file or 'built-in defaults'})")
        return 0
    if args.json:
        emit_json({"file": cfg.file, "values": cfg.as_dict(), "origins": dict(cfg.origins)})
    else:
        print(f"# file: {cfg.file or '(none: built-in defaults)'}")
        for path, value in cfg.values.items():
            print(f"{path} = {value!r}  # {cfg.origins[path]}")
    return 0
