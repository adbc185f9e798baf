"""`agma config show|check|docs`: the effective configuration, a validity check, the key reference."""
from __future__ import annotations

from .. import config as config_mod
from ..output import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("config", parents=[common], help="show, check or document the configuration",
                       description="show: the effective configuration as a TOML file that loads back (agma config "
                                   "show > f.toml; agma --config f.toml config check), each value's origin and the "
                                   "paths in use as comments; check: validate only; docs: the key reference "
                                   "(docs/config.md, Markdown).")
    p.add_argument("action", choices=("show", "check", "docs"),
                   help="show: effective values as TOML, with where each came from; check: validate only; "
                        "docs: key reference (Markdown)")
    p.set_defaults(handler=run)


def resolved_paths(cfg) -> dict[str, str]:
    """The file or folder each path key resolves to now (empty values mean a default location)."""
    from ..capture.zed_calibration import calibration_dir
    from ..store.dump import pending_dump_dir

    dump_dir = pending_dump_dir(cfg)
    out = {"store.db": str(cfg.db_path), "store.dump_dir": str(dump_dir) if dump_dir else "off (no dumps written)"}
    if not cfg["capture.calibration"]:
        out["capture.calibration"] = f"uvc source: the SN<serial>.conf installed in {calibration_dir()}"
    return out


def run(args) -> int:
    if args.action == "docs":
        text = config_mod.docs_markdown()
        if args.json:
            emit_json({"markdown": text})
        else:
            print(text, end="")
        return 0
    cfg = config_mod.load(args.config)
    if args.action == "check":
        if args.json:
            emit_json({"ok": True, "file": cfg.file})
        else:
            print(f"configuration ok ({cfg.file or 'built-in defaults'})")
        return 0
    paths = resolved_paths(cfg)
    if args.json:
        emit_json({"file": cfg.file, "values": cfg.as_dict(), "origins": dict(cfg.origins), "in_use": paths})
    else:
        print(config_mod.to_toml(cfg, {k: f"in use: {v}" for k, v in paths.items()}), end="")
    return 0
