"""Reading a session back into arrays (store/readback.py) costs the arrays, not a tuple per row.

Why: `agma record` ends with the session's accuracy block, read back from the committed rows; for a
one-hour session that is 1.8 M joint rows and as many ground-truth rows. Fetched whole as Python
tuples that peaked at ~270 MB for 20,000 frames (tracemalloc, `agma bench soak`), ~20 times the
arrays it makes. Read chunk by chunk into arrays sized by a count first, the peak is the arrays plus
one chunk. Checked on a real recorded session: the same values as the whole-fetch reference (NaN
where NULL), and with small chunks a peak within 1.5 x the arrays' bytes, where the reference's is
several times that.
"""
from __future__ import annotations

import sqlite3
import tracemalloc

import numpy as np
import pytest

from appliance import config
from appliance.joints import NUM_JOINTS
from appliance.runtime.record import record_session
from appliance.store import readback

FRAMES = 300


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    db = tmp_path_factory.mktemp("readback") / "r.sqlite"
    cfg = config.load(None, {"capture.source": ("synthetic", "t"), "pose.model": ("simulated", "t"),
                             "sim.render": (False, "t"), "store.db": (str(db), "t"), "store.dump_dir": ("off", "t"),
                             "mqtt.enabled": (False, "t")}, environ={})
    summary = record_session(cfg, FRAMES / float(cfg["capture.fps"]), as_fast_as_possible=True)
    assert summary["frames"] == FRAMES
    conn = sqlite3.connect(db)
    (sid,) = conn.execute("SELECT id FROM sessions").fetchone()
    yield conn, sid
    conn.close()


def reference(conn, sid):
    """The whole-fetch reading: every row as a tuple, then one array."""
    rows = conn.execute("SELECT frame_index, x_mm, y_mm, z_mm, left_u, left_v, right_u, right_v, "
                        "invalid_reason IS NULL FROM joints WHERE session_id = ? ORDER BY frame_index, joint",
                        (sid,)).fetchall()
    truth = conn.execute("SELECT frame_index, x_mm, y_mm, z_mm, left_u, left_v, right_u, right_v FROM ground_truth "
                         "WHERE session_id = ? ORDER BY frame_index, joint", (sid,)).fetchall()
    return (np.array(rows, np.float64).reshape(-1, NUM_JOINTS, 9), np.array(truth, np.float64).reshape(-1, NUM_JOINTS, 8))


def _peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_same_values_as_the_whole_fetch(session):
    conn, sid = session
    a = readback.load_session_arrays(conn, sid)
    joints, truth = reference(conn, sid)
    assert a.xyz_mm.shape == (FRAMES, NUM_JOINTS, 3) and truth.shape == (FRAMES, NUM_JOINTS, 8)
    assert np.array_equal(a.frame_index, joints[:, 0, 0].astype(np.int64))
    assert np.array_equal(a.xyz_mm, joints[:, :, 1:4], equal_nan=True)
    assert np.array_equal(a.left_uv_px, joints[:, :, 4:6], equal_nan=True)
    assert np.array_equal(a.right_uv_px, joints[:, :, 6:8], equal_nan=True)
    assert np.array_equal(a.valid, joints[:, :, 8].astype(bool)) and not a.valid.all() and a.valid.any()
    assert np.array_equal(a.truth_xyz_mm, truth[:, :, 1:4], equal_nan=True)
    assert np.isnan(a.xyz_mm[~a.valid]).all()


def test_peak_is_the_arrays_not_the_rows(session, monkeypatch):
    conn, sid = session
    monkeypatch.setattr(readback, "CHUNK_ROWS", 10 * NUM_JOINTS)  # many chunks even for 300 frames
    arrays = FRAMES * NUM_JOINTS * (9 + 8) * 8  # the two float64 arrays the reading makes
    ours = _peak(lambda: readback.load_session_arrays(conn, sid))
    whole = _peak(lambda: reference(conn, sid))
    assert ours <= 1.5 * arrays, (ours, arrays)
    assert whole >= 3 * arrays, (whole, arrays)


def test_an_empty_session_is_empty_arrays(session):
    conn, _ = session
    a = readback.load_session_arrays(conn, 99_999)
    assert a.xyz_mm.shape == (0, NUM_JOINTS, 3) and a.truth_xyz_mm is None
