"""Errors the command line turns into one clear line and an exit code (DESIGN.md, "Command line")."""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78  # EX_CONFIG from sysexits.h


class AgmaError(Exception):
    """Anything that ends a command with one line on stderr and exit code 1."""

    exit_code = EXIT_FAILURE


class UsageError(AgmaError):
    """The command line itself is wrong (exit 2)."""

    exit_code = EXIT_USAGE


class ConfigError(AgmaError):
    """A configuration problem: a file, key path and reason (exit 78, nothing started)."""

    exit_code = EXIT_CONFIG

    def __init__(self, where: str, key: str | None, reason: str) -> None:
        self.where = where
        self.key = key
        self.reason = reason
        text = f"{where}: {key}: {reason}" if key else f"{where}: {reason}"
        super().__init__(text)
