"""Ctrl-C ends a session as `stopped`, SIGTERM as `shutdown`; every frame queued is committed first."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO


@pytest.mark.parametrize("sig, reason", [(signal.SIGINT, "stopped"), (signal.SIGTERM, "shutdown")])
def test_signal_ends_session_cleanly(tmp_path, sig, reason):
    db = tmp_path / "s.sqlite"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "record", "--db", str(db), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    deadline = time.monotonic() + 30
    frames = 0
    while time.monotonic() < deadline and frames < 20:  # wait until frames are being committed
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db) as c:
                    frames = c.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    assert frames >= 20, "the recording never committed frames"
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["end_reason"] == reason
    with sqlite3.connect(db) as c:
        stored, end_reason, ended = c.execute(
            "SELECT COUNT(*), s.end_reason, s.ended_at_ns FROM frames JOIN sessions s ON s.id = session_id").fetchone()
        (row_frames,) = c.execute("SELECT frames FROM sessions").fetchone()
    assert end_reason == reason and ended is not None
    assert stored == summary["frames"] == row_frames
