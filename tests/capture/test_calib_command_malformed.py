"""A malformed calibration file makes `agma calib show` fail with exit code 78 and one line on
stderr naming the file, the section and the key; with --json only the error document on stdout."""
from __future__ import annotations

import json

from . import zed_conf_files as Z
from .calib_cli import run


def test_exit_78_with_one_clear_line(monkeypatch, capsys, tmp_path):
    text = Z.new_format().replace("[STEREO]\nBaseline=", "[STEREO]\nBaseline=12O.0\nOld=", 1)
    path = Z.write(tmp_path / "SN3.conf", text)
    code, out, err = run(monkeypatch, capsys, "calib", "show", path, "--json")
    assert code == 78
    # --json: nothing but the error document on stdout (docs/usage.md, "The rules every subcommand follows")
    assert [json.loads(line) for line in out.splitlines()] == [
        {"ok": False, "error": err.strip().split(": ", 1)[1], "command": "calib", "exit_code": 78}]
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert path in lines[0] and "[STEREO] Baseline" in lines[0] and "not a number" in lines[0]


def test_missing_resolution_is_78(monkeypatch, capsys, tmp_path):
    path = Z.write(tmp_path / "SN3.conf", Z.old_format(resolutions=("HD",)))
    code, _, err = run(monkeypatch, capsys, "calib", "show", path, "--resolution", "VGA")
    assert code == 78 and "[LEFT_CAM_VGA]" in err
