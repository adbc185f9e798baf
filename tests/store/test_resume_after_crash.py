"""Resuming after a crash: the daemon continues a recent interrupted recording; `agma record` never does.

A crash in the middle of a nurse's recording should not end it: when the box comes back within
store.resume_after_crash_s, the daemon records on in a new session whose continues_session points
to the interrupted one. The decision (recovery.resume_target) is a plain function of the file and
the clock, tested here on real files; a person at a shell starts what they mean, so `agma record`
never resumes.
"""
from __future__ import annotations

import sqlite3
import time

import pytest

from appliance import __version__, config
from appliance.capture.synthetic import SyntheticSource
from appliance.runtime.record import record_session
from appliance.stereo.stage import to_pose3d
from appliance.store import recovery, sessions
from appliance.store.writer import StoreWriter
from tests.helpers import agma, last_json
from tests.store.expected_rows import _scene


def _crashed_session(db, n_frames: int = 5) -> tuple[int, int]:
    """A session left open with n committed frames, its writer gone without closing it (as a kill leaves it)."""
    src, model, rules = _scene(3, 1.0)
    w = StoreWriter(db, commit_interval_s=30.0)
    w.start()
    row = w.call(lambda c: sessions.open_session(c, box_id="box9", bed_label="bed 2", source="synthetic",
                                                 model="simulated", model_sha256=None, decoder=None, fps_nominal=30.0,
                                                 calibration=src.calibration, software_version=__version__))
    now = time.time_ns() - 10**9  # frames captured during the last second before the crash
    for i in range(n_frames):
        f = src.frame_at(i, now + round(i * 1e9 / 30))
        w.offer(row.id, to_pose3d(f, *model.estimate(f), rules), wait=True)
    w.flush()
    last_t = w.last_stored_t_ns
    w.stop()  # no close_session: the row stays open, the lock is free, as after SIGKILL
    return row.id, last_t


def _recover(db) -> list:
    w = StoreWriter(db)
    w.start()
    w.stop()
    return w.recovered


def test_resume_target_decision(tmp_path):
    db = tmp_path / "r.sqlite"
    sid, last_t = _crashed_session(db)
    (rec,) = _recover(db)
    assert (rec.id, rec.ended_at_ns, rec.frames) == (sid, last_t, 5)
    with sqlite3.connect(db) as c:
        d = recovery.resume_target(c, last_t + 299 * 10**9, 300)
        assert d is not None and (d.session_id, d.box_id, d.bed_label) == (sid, "box9", "bed 2")
        assert d.age_s == pytest.approx(299)
        assert recovery.resume_target(c, last_t + 301 * 10**9, 300) is None  # too old: a new recording
        assert recovery.resume_target(c, last_t + 10**9, 0) is None  # 0 turns resuming off
        assert recovery.resume_target(c, last_t - 60 * 10**9, 300) is not None  # clock went back: still young
    # once anything else was recorded after it, it is no longer the recording to continue
    cfg = config.load(None, {"store.db": (str(db), "test")}, environ={})
    record_session(cfg, 0.1, True, open_source=lambda: SyntheticSource(seed=1, n_frames=3, paced=False, render=False),
                   build_pose=lambda info: _scene(1, 1.0)[1])
    with sqlite3.connect(db) as c:
        assert recovery.resume_target(c, time.time_ns(), 300) is None


def _record(db, resume: bool, resume_after_crash_s: float = 300.0) -> dict:
    cfg = config.load(None, {"store.db": (str(db), "test"), "store.resume_after_crash_s": (resume_after_crash_s, "test")},
                      environ={})
    return record_session(cfg, 0.1, True, open_source=lambda: SyntheticSource(seed=2, n_frames=3, paced=False, render=False),
                          build_pose=lambda info: _scene(2, 1.0)[1], resume=resume)


def test_daemon_resume_continues_the_interrupted_session(tmp_path):
    db = tmp_path / "d.sqlite"
    sid, _ = _crashed_session(db)
    summary = _record(db, resume=True)
    with sqlite3.connect(db) as c:
        old_uid, old_reason = c.execute("SELECT uid, end_reason FROM sessions WHERE id = ?", (sid,)).fetchone()
        new_id, cont = c.execute("SELECT id, continues_session FROM sessions WHERE uid = ?",
                                 (summary["session_id"],)).fetchone()
        (detail,) = c.execute("SELECT detail FROM events WHERE session_id = ? AND kind = 'session_continues'",
                              (new_id,)).fetchone()
    assert old_reason == "interrupted" and cont == sid and summary["continues_session"] == old_uid
    assert detail.startswith(f"continues {old_uid} (interrupted)")


def test_no_resume_when_too_old_or_not_asked(tmp_path):
    db = tmp_path / "o.sqlite"
    _crashed_session(db)
    old = _record(db, resume=True, resume_after_crash_s=0.01)  # interrupted longer ago than the setting
    _crashed_session(db)
    plain = _record(db, resume=False)  # what `agma record` asks for
    with sqlite3.connect(db) as c:
        rows = c.execute("SELECT uid, end_reason, continues_session FROM sessions ORDER BY id").fetchall()
    assert [r[1] for r in rows] == ["interrupted", "duration", "interrupted", "duration"]
    assert [r[2] for r in rows] == [None] * 4
    assert old["continues_session"] is None and plain["continues_session"] is None


def test_agma_record_never_resumes(tmp_path):
    """A young interrupted session, and still `agma record` starts a session of its own."""
    db = tmp_path / "a.sqlite"
    sid, _ = _crashed_session(db)
    proc = agma("record", "--duration", "0.1", "--as-fast-as-possible", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    s = last_json(proc)
    assert s["continues_session"] is None
    assert "closed as interrupted" in proc.stderr  # the recovery is said on stderr
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT end_reason, continues_session FROM sessions ORDER BY id").fetchall() == [
            ("interrupted", None), ("duration", None)]
