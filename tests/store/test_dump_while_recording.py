"""Dumps are correct while another session is being recorded into the same database.

The box records the next infant while researchers pull the previous one. A dump must neither
block the writer (frames would drop) nor catch a half-committed batch: one read transaction gives
one snapshot, so even a dump of the *open* session is self-consistent (sessions.frames, updated
in each commit, equals the frames it holds, and every frame has its 17 joints).
"""
from __future__ import annotations

import sqlite3
import threading
import time

from appliance import config
from tests.sim_keypoints import SimulatedKeypointModel
from appliance.session import RecordRequest, Recorder
from appliance.files import sha256_file
from appliance.store.dump import dump_session
from tests.store.recorded import SkippingSource, record, session_rows


def test_dumps_during_a_live_recording(tmp_path):
    db = tmp_path / "box.sqlite"
    closed = record(db, seed=1, n_frames=90)
    first = dump_session(db, closed["session_id"], tmp_path / "before.sqlite")

    cfg = config.load(None, {"store.db": (str(db), "test"), "store.commit_interval_s": (0.02, "test"),
                             "store.dump_dir": ("off", "test")}, environ={})
    src = SkippingSource((), seed=2, n_frames=None, paced=True, render=False)  # a live camera, 30 fps
    recorder = Recorder(cfg, src, SimulatedKeypointModel(1.0, 2), RecordRequest(None, False))
    out: dict = {}
    thread = threading.Thread(target=lambda: out.setdefault("summary", recorder.run()))
    thread.start()
    try:
        deadline = time.monotonic() + 20
        live_uid = None
        while live_uid is None and time.monotonic() < deadline:
            time.sleep(0.1)
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            row = conn.execute("SELECT uid FROM sessions WHERE end_reason IS NULL AND frames > 5").fetchone()
            conn.close()
            live_uid = row and row[0]
        assert live_uid, "the live session never committed frames"
        dumps_of_open = []
        for i in range(4):
            again = dump_session(db, closed["session_id"], tmp_path / f"during{i}.sqlite")
            assert again.sha256 == first.sha256  # the closed session's dump does not move
            dumps_of_open.append(dump_session(db, live_uid, tmp_path / f"open{i}.sqlite"))
            time.sleep(0.15)
    finally:
        recorder.request_stop("stopped")
        thread.join(30)
    summary = out["summary"]
    assert summary["end_reason"] == "stopped", summary

    grew = [d.frames for d in dumps_of_open]
    assert grew == sorted(grew) and grew[-1] > grew[0], grew  # the writer went on while we dumped
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
