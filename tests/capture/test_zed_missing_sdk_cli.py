"""`capture.source = "zed"` without the ZED SDK's Python module: `agma record` says how to install it, in one line.

Why: pyzed comes with the SDK (its get_python_api.py), and an unrelated PyPI project has the same
name: the line must name the SDK's installer and never suggest `pip install pyzed`. Nothing can
start without it: a config error (78), in-process (`agma record`) and through the capture process
(`agma daemon`: the child's answer says it is a config error), through the real command line, with no traceback;
the box's probe (`python -m appliance.capture.zed`, used by scripts/acceptance-zed.sh) says the same.
Skipped where pyzed is installed (the box), where the source opens for real instead.
"""
from __future__ import annotations

import importlib.util
import sqlite3
import sys

import pytest

from tests.helpers import REPO, agma, clean_env, run

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pyzed") is not None, reason="pyzed is installed here")


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr and "pip install" not in stderr
    assert "python3 /usr/local/zed/get_python_api.py" in lines[0]
    return lines[0]


def test_record_with_the_zed_source_from_the_environment(tmp_path):
    """`agma record` reads in-process: the source's ConfigError keeps its 78."""
    p = agma("record", "--duration", "1", "--db", str(tmp_path / "d.sqlite"), env={"AGMA_CAPTURE__SOURCE": "zed"})
    assert p.returncode == 78, p.stderr
    assert _one_line(p.stderr).startswith("agma record: environment AGMA_CAPTURE__SOURCE: the ZED SDK's Python module")
    db = tmp_path / "d.sqlite"
    if db.exists():  # the store may have been opened before the source: no session in it
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (0,)


def test_daemon_through_the_capture_process(tmp_path):
    """`agma daemon` opens the source in its capture process (capture.process, the default): the child's
    one-line refusal, flagged as a config error, is the daemon's one line and exit 78 too."""
    p = agma("daemon", env={"AGMA_CAPTURE__SOURCE": "zed", "AGMA_STORE__DB": str(tmp_path / "d.sqlite"),
                            "AGMA_STORE__MIN_FREE_MB": "0"})
    assert p.returncode == 78, p.stderr
    assert "python3 /usr/local/zed/get_python_api.py" in p.stderr and "Traceback" not in p.stderr


def test_record_with_the_zed_source_from_the_flag(tmp_path):
    p = agma("record", "--source", "zed", "--duration", "1", "--db", str(tmp_path / "d.sqlite"))
    assert p.returncode != 0, p.stderr
    assert _one_line(p.stderr).startswith("agma record: command line --source: the ZED SDK's Python module")


def test_the_box_probe():
    p = run([sys.executable, "-m", "appliance.capture.zed"], env=clean_env(), cwd=REPO)
    assert p.returncode == 78 and p.stdout == ""
    assert _one_line(p.stderr).startswith("zed: the ZED SDK's Python module (pyzed) is not installed here")
