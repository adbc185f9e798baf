"""Test helper: run `agma ...` in-process through appliance.cli.main."""
from __future__ import annotations

import json

from appliance import cli


def run(monkeypatch, capsys, *argv: str):
    """(exit code, stdout, stderr) of `agma ARGV` (monkeypatch: kept for the callers' signature)."""
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def last_json(out: str):
    lines = out.strip().splitlines()
    assert lines, "no stdout"
    return json.loads(lines[-1])
