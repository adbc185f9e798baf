"""`agma`: one command, one subcommand per job (DESIGN.md, "Command line").

Every subcommand accepts --config and --json. --json prints one JSON document on one line as the
last line of stdout; logs go to stderr. Exit codes: 0 ok, 2 usage, 78 configuration, 1 anything
else, each with one clear line on stderr, and with --json also ``{"ok": false, "error": ...}`` as
the last line of stdout. An unexpected exception is one line too (``internal error: <type>:
<message>``, exit 1); -v adds its traceback. Output closed by its reader (``agma sessions | head``)
ends the command quietly with exit 1.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import traceback
from typing import Any

from . import __version__
from .errors import AgmaError
from .output import emit_json

COMMAND_MODULES = ("record", "daemon", "control", "bench", "config", "db", "engine", "calib", "sessions", "dump", "export", "ward", "doctor")


class _UsageExit(Exception):
    """argparse rejected the command line: raised instead of exiting, so main() can add the --json line."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser, self.message = parser, message


class _Parser(argparse.ArgumentParser):
    """argparse's parser (its usage and message on stderr, exit 2), reporting through main()."""

    def error(self, message: str):  # type: ignore[override]
        raise _UsageExit(self, message)


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
    common = _Parser(add_help=False)
    _add_common_options(common, suppress=True)
    parser = _Parser(prog="agma", description="AGMA bedside box: 3D pose of preterm infants.")
    _add_common_options(parser, suppress=False)
    parser.add_argument("--version", action="version", version=f"agma {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f".commands.{name}", __package__).register(sub, common)
    _describe(parser)
    return parser


def _describe(parser: argparse.ArgumentParser) -> None:
    """A subcommand registered without a description says at least its help line in its own --help."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                if not sub.description and helps.get(name):
                    sub.description = helps[name][0].upper() + helps[name][1:] + "."
                _describe(sub)


def _report(command: str | None, message: str, exit_code: int, json_mode: bool) -> int:
    """One line on stderr; with --json also {"ok": false, ...} as the last line of stdout."""
    print(f"agma {command}: {message}" if command else f"agma: {message}", file=sys.stderr)
    if json_mode:
        emit_json({"ok": False, "error": message, "command": command, "exit_code": exit_code})
    return exit_code


def _stdout_closed() -> int:
    """The reader of stdout went away (`| head`): stop quietly (the recipe of Python's signal docs).

    Later writes and the interpreter's final flush go to /dev/null instead of raising again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout replaced by something without a descriptor
        pass
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageExit as exc:
        exc.parser.print_usage(sys.stderr)
        command = exc.parser.prog.split(" ", 1)[1] if " " in exc.parser.prog else None
        # SystemExit, as argparse itself exits (and --help, --version still do): callers of main() see the same
        raise SystemExit(_report(command, f"error: {exc.message}", 2, "--json" in argv)) from None
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        try:
            code = int(args.handler(args) or 0)
            sys.stdout.flush()  # inside the try: a closed pipe raises here, not at interpreter exit
            return code
        except AgmaError as exc:
            return _report(args.command, str(exc), exc.exit_code, args.json)
        except KeyboardInterrupt:
            return _report(args.command, "interrupted", 130, args.json)
        except BrokenPipeError:
            raise
        except Exception as exc:  # a bug or an unforeseen condition: still one line, no traceback
            if args.verbose:
                traceback.print_exc()
            hint = "" if args.verbose else " (run with -v for the traceback)"
            return _report(args.command, f"internal error: {type(exc).__name__}: {exc}{hint}", 1, args.json)
    except BrokenPipeError:
        return _stdout_closed()


def console_main() -> None:
    """Entry point of the `agma` console script."""
    sys.exit(main())
