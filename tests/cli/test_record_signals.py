"""Ctrl-C ends a session as `stopped`, SIGTERM as `shutdown`; every frame queued is committed first.

The recorder runs under tests.helpers.start_agma, so it is killed however the test ends; the test
waits for the state it needs (20 committed frames) with a generous deadline, not a fixed window.
"""
from __future__ import annotations

import json
import signal
import sqlite3

import pytest

from tests.helpers import DEADLINE_S, start_agma, wait_until


def _committed(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or no schema yet
        return 0


@pytest.mark.parametrize("sig, reason", [(signal.SIGINT, "stopped"), (signal.SIGTERM, "shutdown")])
def test_signal_ends_session_cleanly(tmp_path, sig, reason):
    db = tmp_path / "s.sqlite"
    with start_agma("record", "--db", str(db), "--json") as proc:
        wait_until(lambda: _committed(db) >= 20, "20 frames committed", proc=proc)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["end_reason"] == reason
    with sqlite3.connect(db) as c:
        stored, end_reason, ended = c.execute(
            "SELECT COUNT(*), s.end_reason, s.ended_at_ns FROM frames JOIN sessions s ON s.id = session_id").fetchone()
        (row_frames,) = c.execute("SELECT frames FROM sessions").fetchone()
    assert end_reason == reason and ended is not None
    assert stored == summary["frames"] == row_frames
