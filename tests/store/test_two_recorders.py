"""Two recorders on one database: the second is refused, naming the first; the first is untouched.

Were the second allowed in, its recovery would close the first's live session as interrupted and
both would interleave writes. So it must stop before writing anything, with one line naming the
holder's pid (exit 1), while readers keep reading without any lock.

The first recorder runs under tests.helpers.start_agma (killed however the test ends), and the
test waits for its 10 committed frames with a generous deadline, not a fixed window.
"""
from __future__ import annotations

import json
import signal
import sqlite3

from tests.helpers import DEADLINE_S, agma, start_agma, wait_until

FRAMES_COL = 13  # position of sessions.frames


def _rows(db) -> tuple:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:  # a reader: no lock needed
        return (c.execute("SELECT * FROM sessions").fetchall(), c.execute("SELECT * FROM events").fetchall(),
                c.execute("SELECT COUNT(*) FROM frames").fetchone()[0])


def _frames_or_zero(db) -> int:
    try:
        return _rows(db)[2]
    except sqlite3.OperationalError:  # not created yet
        return 0


def test_second_recorder_refused_first_untouched(tmp_path):
    db = tmp_path / "two.sqlite"
    with start_agma("record", "--db", str(db), "--json", env={"AGMA_STORE__COMMIT_INTERVAL_S": "0.1"}) as first:
        wait_until(lambda: _frames_or_zero(db) >= 10, "10 frames committed by the first recorder", proc=first)
        sessions_before, events_before, frames_before = _rows(db)
        assert frames_before >= 10 and len(sessions_before) == 1
        assert sessions_before[0][6] is None  # end_reason: open, being recorded
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            assert [r[1] for r in c.execute("PRAGMA table_info(sessions)")][FRAMES_COL] == "frames"

        second = agma("record", "--duration", "1", "--as-fast-as-possible", "--db", str(db), "--json")
        assert second.returncode == 1
        assert json.loads(second.stdout)["ok"] is False  # --json: only the error document on stdout
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.pid}" in lines[0] and str(db) in lines[0]

        sessions_after, events_after, frames_after = _rows(db)
        # sessions.frames moves with the first's commits; every other column stays as it was
        assert [r[:FRAMES_COL] + r[FRAMES_COL + 1:] for r in sessions_after] == \
            [r[:FRAMES_COL] + r[FRAMES_COL + 1:] for r in sessions_before]
        assert events_after == events_before  # the second wrote no event, closed nothing
        assert frames_after >= frames_before  # the first kept recording
        first.send_signal(signal.SIGINT)
        out, err = first.communicate(timeout=DEADLINE_S)
    assert first.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["end_reason"] == "stopped"
    sessions, _, frames = _rows(db)
    assert len(sessions) == 1 and sessions[0][1] == summary["session_id"] == sessions_before[0][1]
    assert frames == summary["frames"]
    # the lock went with the first recorder: a third one records
    third = agma("record", "--duration", "0.1", "--as-fast-as-possible", "--db", str(db), "--json")
    assert third.returncode == 0, third.stderr
