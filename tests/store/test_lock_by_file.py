"""The one-writer lock belongs to the database file, not to the spelling of its path.

Wave 1 named the lock after the path given: a second `agma record` reaching the same file
through a symlink (or `folder/../folder/x.sqlite`) took a lock of its own, "recovered" the live
session as interrupted and wrote beside the first, a false history in `events`. The lock is now
named after the resolved file; the second recorder, through either spelling, is refused with
one line naming the first one's pid, and the first records on untouched. Two real processes.
"""
from __future__ import annotations

import json
import signal
import sqlite3

from tests.helpers import agma, last_json, start_agma, wait_until


def _frames(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _history(db) -> tuple:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return (c.execute("SELECT id, uid, end_reason FROM sessions").fetchall(),
                c.execute("SELECT id, session_id, kind FROM events ORDER BY id").fetchall())


def test_second_recorder_through_a_symlink_or_another_spelling_is_refused(tmp_path):
    real = tmp_path / "data" / "box.sqlite"
    real.parent.mkdir()
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    (tmp_path / "linked-folder").symlink_to(real.parent)
    spellings = [link, tmp_path / "data" / ".." / "data" / "box.sqlite", tmp_path / "linked-folder" / "box.sqlite"]
    with start_agma("record", "--db", str(real), "--json", env={"AGMA_STORE__COMMIT_INTERVAL_S": "0.1",
                                                                 "AGMA_SIM__RENDER": "false"}) as first:
        wait_until(lambda: _frames(real) >= 10, "the first recorder committing frames", proc=first)
        before = _history(real)
        for other in spellings:
            second = agma("record", "--db", str(other), "--duration", "1", "--as-fast-as-possible", "--json")
            assert second.returncode == 1, (other, second.stderr)
            lines = second.stderr.strip().splitlines()
            assert len(lines) == 1, second.stderr
            assert f"pid {first.pid}" in lines[0] and str(real) in lines[0], lines[0]
            assert last_json(second)["ok"] is False
        assert _history(real) == before  # nothing recovered, nothing opened, no event written
        assert before[0][0][2] is None  # the first's session is still open, being recorded
        n = _frames(real)
        wait_until(lambda: _frames(real) > n, "the first recorder going on", proc=first)
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["end_reason"] == "stopped"
    sessions, events = _history(real)
    assert [s[2] for s in sessions] == ["stopped"]
    assert "session_recovered" not in [e[2] for e in events]
