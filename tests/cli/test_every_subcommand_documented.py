"""Every subcommand is documented in docs/usage.md and explains itself in --help.

The subcommands are read from the parser itself (appliance.cli.build_parser, nested ones such as
`engine export` included), not from a list in this test, so a subcommand added later (`daemon`,
`start`, `stop`, `status`, ...) is checked the day it is registered: it needs a `## ...agma NAME...`
(or `agma A|NAME`) section in docs/usage.md naming each of its actions, a help line in `agma --help`, a description
or help in its own --help, and a help text for every option.
"""
from __future__ import annotations

import argparse
import re

from appliance import cli
from tests.helpers import REPO, agma

USAGE = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")


def _subcommands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """(path, parser, help shown in the parent's list) of every subcommand, depth first."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield prefix + (name,), sub, helps.get(name)
                yield from _subcommands(sub, prefix + (name,))


def _sections() -> dict[str, str]:
    """Each '## ' heading of usage.md -> the text up to the next one."""
    parts = re.split(r"^## ", USAGE, flags=re.M)[1:]
    return {p.split("\n", 1)[0]: p for p in parts}


ALL = list(_subcommands(cli.build_parser()))


def test_the_parser_is_walked():
    names = {" ".join(path) for path, _, _ in ALL}
    assert {"record", "sessions", "dump", "export", "config", "db", "engine export", "calib install"} <= names


def test_every_subcommand_has_a_section_naming_its_actions():
    sections = _sections()
    for path, sub, _ in ALL:
        top = path[0]
        mine = [body for heading, body in sections.items() if re.search(rf"agma (?:[\w-]+\|)*{re.escape(top)}\b", heading)]
        assert mine, f"docs/usage.md has no '## ... agma {top} ...' section"
        words = list(path[1:])
        for action in sub._actions:  # positional choices: config show|check|docs, db docs|schema
            if not action.option_strings and action.choices and not isinstance(action, argparse._SubParsersAction):
                words += [str(c) for c in action.choices]
        for word in words:
            assert any(re.search(rf"\b{re.escape(word)}\b", body) for body in mine), \
                f"docs/usage.md's section on agma {top} does not mention {word!r}"


def test_every_subcommand_and_option_has_help_text():
    for path, sub, listed in ALL:
        name = " ".join(path)
        assert listed, f"agma {name} has no help line in its parent's --help"
        assert sub.description, f"agma {name} --help does not say what it does"
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            assert action.help and action.help != argparse.SUPPRESS, \
                f"agma {name}: {'/'.join(action.option_strings) or action.dest} has no help text"
        text = sub.format_help()
        assert text.startswith(f"usage: agma {name}") and " ".join(sub.description.split()) in " ".join(text.split())


def test_agma_help_lists_every_top_level_subcommand():
    proc = agma("--help", check=True)
    tops = [(path[0], listed) for path, _, listed in ALL if len(path) == 1]
    for name, listed in tops:
        assert re.search(rf"^\s+{re.escape(name)}\s", proc.stdout, flags=re.M), f"agma --help does not list {name}"
    for path, _, _ in ALL:  # each one's own --help runs: exit 0, its usage line first
        if len(path) == 1:
            own = agma(*path, "--help", check=True)
            assert own.stdout.startswith(f"usage: agma {path[0]}")
