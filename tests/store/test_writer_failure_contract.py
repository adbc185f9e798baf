"""The store writer's contract when it fails: ``error`` set, nobody left waiting, the row still closable.

What the recorder (and the daemon's runtime) builds on, checked on a real writer and a real file:
once anything in the writer thread fails, ``error`` names the step and the cause, the pending
and every later ``call``/``flush`` raise it at once instead of waiting for ever, ``offer``
refuses frames, and ``close_session_after_failure`` closes the session row on a fresh connection
at its last committed frame while the write lock is still held. A writer that does not answer
within ``timeout_s`` is treated the same way (StoreTimeout), and the callers queued behind the
stuck call are woken with it. The fault is the environment's (os.statvfs raising EIO, a call
that blocks), never a stand-in for the writer.
"""
from __future__ import annotations

import errno
import os
import sqlite3
import threading

import pytest

from appliance import __version__
from appliance.errors import AgmaError
from appliance.stereo.stage import to_pose3d
from appliance.store import sessions
from appliance.store.lock import DatabaseLock
from appliance.store.writer import StoreTimeout, StoreWriter, StoreWriterError
from tests.helpers import DEADLINE_S
from tests.store.expected_rows import _scene


def _open(db):
    src, model, rules = _scene(5, 1.0)
    w = StoreWriter(db, commit_interval_s=30.0, min_free_mb=0.001)  # > 0: statvfs after every commit
    w.start()
    row = w.call(lambda c: sessions.open_session(c, box_id="box1", bed_label="", source="synthetic", model="simulated",
                                                 model_sha256=None, decoder=None, fps_nominal=30.0,
                                                 calibration=src.calibration, software_version=__version__))
    poses = []
    for i in range(6):
        f = src.frame_at(i, 10**18 + round(i * 1e9 / 30))
        poses.append(to_pose3d(f, *model.estimate(f), rules))
    return w, row, poses


def test_failure_fails_every_caller_at_once_and_the_row_still_closes(tmp_path, monkeypatch):
    db = tmp_path / "w.sqlite"
    w, row, poses = _open(db)
    try:
        for p in poses[:3]:
            assert w.offer(row.id, p, wait=True)
        w.flush()
        assert (w.stored_frames, w.error) == (3, None)

        def eio(path):
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(path))

        monkeypatch.setattr(os, "statvfs", eio)  # the disk goes away
        for p in poses[3:]:
            assert w.offer(row.id, p, wait=True)
        with pytest.raises(StoreWriterError, match="free-space check failed.*Input/output error"):
            w.flush()  # the batch commits, then the check after it raises
        assert isinstance(w.error, AgmaError) and "Input/output error" in str(w.error)
        assert w.stored_frames == 6  # that commit had returned: those frames are stored
        with pytest.raises(StoreWriterError) as later:
            w.call(lambda c: 1, timeout_s=None)  # no wait at all, not even without a timeout
        assert later.value is w.error
        assert w.offer(row.id, poses[0], wait=True) is False
        closed = w.close_session_after_failure(row.id, "error", 0, f"store: {w.error}")
        assert (closed.frames, closed.ended_at_ns) == (6, poses[5].t_ns)
    finally:
        assert w.stop(DEADLINE_S)
    with DatabaseLock(db):  # released by stop()
        pass
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT end_reason, ended_at_ns, frames FROM sessions").fetchall()
        assert rows == [("error", poses[5].t_ns, 6)]
        assert c.execute("SELECT COUNT(*) FROM frames").fetchone() == (6,)


def test_a_writer_that_does_not_answer_in_time_fails_and_wakes_everyone(tmp_path):
    db = tmp_path / "t.sqlite"
    w, row, _ = _open(db)
    running, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def blocked(conn):  # a write stuck in the writer thread (a stalled disk)
        running.set()
        release.wait(DEADLINE_S)
        return "done"

    def caller(name, fn):
        try:
            outcome[name] = w.call(fn, timeout_s=None)
        except Exception as exc:
            outcome[name] = exc

    first = threading.Thread(target=caller, args=("first", blocked))
    first.start()
    assert running.wait(DEADLINE_S), "the writer never ran the first call"
    queued = threading.Thread(target=caller, args=("queued", lambda c: "never"))
    queued.start()
    try:
        with pytest.raises(StoreTimeout, match="did not answer a write within 0.5 s"):
            w.call(lambda c: None, timeout_s=0.5)
        assert isinstance(w.error, StoreTimeout)
    finally:
        release.set()
        first.join(DEADLINE_S)
        queued.join(DEADLINE_S)
        assert w.stop(DEADLINE_S)
    assert not first.is_alive() and not queued.is_alive()
    assert outcome["first"] == "done"  # it was running: it completed
    assert outcome["queued"] is w.error  # woken with the writer's error, not left waiting
