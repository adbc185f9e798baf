"""NPZ: xyz_mm (F,17,3) with NaN where invalid, confidence, t_ns, frame_index, joint names and the
calibration, loadable without pickle; sampled frames equal the database."""
from __future__ import annotations

import sqlite3

import numpy as np

from appliance.joints import JOINT_NAMES
from appliance.store.export import export_session
from appliance.store.listing import open_readonly
from tests.store.recorded import SKIPPED, export_fixture_db, joints_by_frame, sample_frames, session_rows


def test_npz(tmp_path):
    db, uid = export_fixture_db(tmp_path)
    conn = open_readonly(db)
    (path,) = export_session(conn, uid, "npz", tmp_path / "s.npz")
    conn.close()
    z = np.load(path, allow_pickle=False)
    n = 60 - len(SKIPPED)
    assert z["xyz_mm"].shape == (n, 17, 3) and z["confidence"].shape == (n, 17)
    assert list(z["joint_names"]) == list(JOINT_NAMES) and str(z["session_uid"]) == uid
    frames = session_rows(db, uid, "frames", "frame_index")
    assert z["frame_index"].tolist() == [r[1] for r in frames]
    assert z["t_ns"].dtype == np.int64 and z["t_ns"].tolist() == [r[2] for r in frames]
    by_frame = joints_by_frame(db, uid)
    pos = {fi: k for k, fi in enumerate(z["frame_index"].tolist())}
    for fi in sample_frames(by_frame):
        expected = np.array([r[1:5] for r in by_frame[fi]], dtype=float)  # NULL -> NaN
        got = np.column_stack([z["xyz_mm"][pos[fi]], z["confidence"][pos[fi]]])
        np.testing.assert_array_equal(got, expected)
        assert z["valid"][pos[fi]].tolist() == [r[-1] is None for r in by_frame[fi]]
        reasons = z["invalid_reason_names"][z["invalid_reason_code"][pos[fi]]]
        assert reasons.tolist() == [r[-1] or "" for r in by_frame[fi]]
    src = sqlite3.connect(db)
    cal = src.execute("SELECT c.fx, c.cy, c.baseline_mm, c.serial FROM calibrations c JOIN sessions s "
                      "ON s.calibration_id = c.id WHERE s.uid = ?", (uid,)).fetchone()
    src.close()
    rec = z["calibration"]
    assert (float(rec["fx"]), float(rec["cy"]), float(rec["baseline_mm"]), str(rec["serial"])) == cal
