"""`agma`: one command, one subcommand per job (DESIGN.md, "Command line").

Every subcommand accepts --config and --json. --json prints one JSON document on one line as the
last line of stdout; logs go to stderr. Exit codes: 0 ok, 2 usage, 78 configuration, 1 anything
else, each with one clear line on stderr.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import sys
from typing import Any

from . import __version__
from .errors import AgmaError

COMMAND_MODULES = ("record", "bench", "config", "db", "engine", "calib", "sessions", "dump", "export")


def _clean(obj: Any) -> Any:
    """JSON has no NaN: missing numbers become null."""
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return _clean(obj.item())
    return obj


def emit_json(obj: Any) -> None:
    """Print one JSON document on one line (the last line of stdout)."""
    sys.stdout.write(json.dumps(_clean(obj), separators=(",", ":"), allow_nan=False) + "\n")
    sys.stdout.flush()


def _add_common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """--config, --json, -v: with their defaults on the top parser, SUPPRESSed on every subcommand's."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--config", metavar="FILE", default=default(None),
                        help="TOML configuration file (else $AGMA_CONFIG, else /etc/agma/agma.toml)")
    parser.add_argument("--json", action="store_true", default=default(False),
                        help="print one JSON document on the last line of stdout")
    parser.add_argument("-v", "--verbose", action="count", default=default(0), help="more logging on stderr")


def build_parser() -> argparse.ArgumentParser:
    # The subcommands' copies default to SUPPRESS so that an option given before the subcommand
    # (agma --json record) is not overwritten by the subcommand parser's default. The top parser
    # has its own copies with the real defaults: set_defaults() on a parser built with
    # parents=[common] would change the Action objects it shares with every subcommand.
    common = argparse.ArgumentParser(add_help=False)
    _add_common_options(common, suppress=True)
    parser = argparse.ArgumentParser(prog="agma", description="AGMA bedside box: 3D pose of preterm infants.")
    _add_common_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"agma {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f".commands.{name}", __package__).register(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args) or 0)
    except AgmaError as exc:
        print(f"agma {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"agma {args.command}: interrupted", file=sys.stderr)
        return 130


def console_main() -> None:
    """Entry point of the `agma` console script."""
    sys.exit(main())
