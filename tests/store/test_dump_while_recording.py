"""Dumps are correct while another session is being recorded into the same database.

The box records the next infant while researchers pull the previous one. A dump must neither
block the writer (frames would drop) nor catch a half-committed batch: one read transaction gives
one snapshot, so even a dump of the *open* session is self-consistent (sessions.frames, updated
in each commit, equals the frames it holds, and every frame has its 17 joints).

The test waits for states, not for times: for the live session's first frames, and before each
next dump of the open session for the writer to have committed more than the last dump held (it
used to dump at fixed 0.15 s intervals and then require growth, which a busy machine can miss),
each with a generous deadline.
"""
from __future__ import annotations

import sqlite3

from appliance.files import sha256_file
from appliance.store.dump import dump_session
from tests.helpers import wait_until
from tests.store.recorded import live_recording, record, session_rows


def _live(db, more_than: int) -> str | None:
    """The uid of the open session once it holds more than ``more_than`` frames."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT uid FROM sessions WHERE end_reason IS NULL AND frames > ?", (more_than,)).fetchone()
    finally:
        conn.close()
    return row and row[0]


def _live_frames(db, uid: str) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT frames FROM sessions WHERE uid = ?", (uid,)).fetchone()[0]
    finally:
        conn.close()


def test_dumps_during_a_live_recording(tmp_path):
    db = tmp_path / "box.sqlite"
    closed = record(db, seed=1, n_frames=90)
    first = dump_session(db, closed["session_id"], tmp_path / "before.sqlite")

    with live_recording(db, commit_interval_s=0.02) as out:
        live_uid = wait_until(lambda: _live(db, 5), "the live session committed frames")
        dumps_of_open = []
        for i in range(4):
            if dumps_of_open:  # the writer has gone on since the last dump
                wait_until(lambda: _live_frames(db, live_uid) > dumps_of_open[-1].frames,
                           "the live session committed more frames")
            again = dump_session(db, closed["session_id"], tmp_path / f"during{i}.sqlite")
            assert again.sha256 == first.sha256  # the closed session's dump does not move
            dumps_of_open.append(dump_session(db, live_uid, tmp_path / f"open{i}.sqlite"))
    summary = out["summary"]
    assert summary["end_reason"] == "stopped", summary

    grew = [d.frames for d in dumps_of_open]
    assert grew == sorted(set(grew)), grew  # each dump of the open session held more: the writer went on
    assert summary["frames"] >= grew[-1]
    for d in dumps_of_open:
        conn = sqlite3.connect(d.path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            (frames_col, end_reason), = conn.execute("SELECT frames, end_reason FROM sessions").fetchall()
            n_frames, = conn.execute("SELECT COUNT(*) FROM frames").fetchone()
            n_joints, = conn.execute("SELECT COUNT(*) FROM joints").fetchone()
            assert end_reason is None and frames_col == n_frames == d.frames and n_joints == 17 * n_frames
            # the snapshot's rows are the database's rows (the recording only ever appends)
            mine = conn.execute("SELECT * FROM joints ORDER BY frame_index, joint").fetchall()
        finally:
            conn.close()
        assert mine == session_rows(db, live_uid, "joints", "frame_index, joint")[:len(mine)]
    assert sha256_file(tmp_path / "before.sqlite") == first.sha256
