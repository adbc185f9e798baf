"""The rows a session leaves: the SQLite contract researchers rely on."""
from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from appliance import config
from appliance.capture.synthetic import SIMULATED_ZED2_HD720, SyntheticSource
from appliance.joints import JOINT_NAMES
from tests.sim_keypoints import SimulatedKeypointModel
from appliance.runtime.record import record_session
from appliance.store.schema import SCHEMA_VERSION


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    db = tmp_path_factory.mktemp("store") / "rows.sqlite"
    # noise 30 px so some joints break the epipolar rule: the NULL-with-reason path is exercised
    cfg = config.load(None, {"store.db": (str(db), "test"), "sim.noise_px": (4.0, "test"),
                             "stereo.max_epipolar_px": (4.0, "test"), "box.bed_label": ("bed 3", "test")}, environ={})
    src = SyntheticSource(seed=5, n_frames=45, paced=False, render=False)
    summary = record_session(cfg, 1.5, True, open_source=lambda: src, build_pose=lambda info: SimulatedKeypointModel(4.0, 5))
    conn = sqlite3.connect(db)
    yield summary, conn, src
    conn.close()


def test_session_row(session):
    summary, conn, _ = session
    row = conn.execute("SELECT uid, box_id, bed_label, end_reason, source, model, model_sha256, decoder, fps_nominal, "
                       "frames, dropped_frames, ended_at_ns > started_at_ns FROM sessions").fetchone()
    assert row == (summary["session_id"], "agma-dev", "bed 3", "duration", "synthetic", "simulated", None, None, 30.0,
                   45, 0, 1)
    assert row[0].startswith("agma-dev-") and len(row[0].split("-")[-1]) == 4


def test_frames_and_joints_complete(session):
    _, conn, _ = session
    assert conn.execute("SELECT COUNT(*), MIN(frame_index), MAX(frame_index) FROM frames").fetchone() == (45, 0, 44)
    assert conn.execute("SELECT COUNT(*) FROM joints").fetchone()[0] == 45 * 17
    assert conn.execute("SELECT COUNT(*) FROM ground_truth").fetchone()[0] == 45 * 17
    t = [r[0] for r in conn.execute("SELECT t_ns FROM frames ORDER BY frame_index")]
    assert np.allclose(np.diff(t), 1e9 / 30, atol=1)


def test_invalid_joints_null_with_reason_and_evidence_kept(session):
    _, conn, _ = session
    invalid = conn.execute("SELECT x_mm, y_mm, z_mm, left_u, right_v, invalid_reason FROM joints "
                           "WHERE invalid_reason IS NOT NULL").fetchall()
    assert invalid, "expected some epipolar failures with 4 px noise and a 4 px limit"
    assert all(r[:3] == (None, None, None) and r[3] is not None and r[4] is not None for r in invalid)
    assert {r[5] for r in invalid} == {"epipolar_error"}
    (valid_sum,) = conn.execute("SELECT SUM(valid_joints) FROM frames").fetchone()
    (valid_rows,) = conn.execute("SELECT COUNT(*) FROM joints WHERE invalid_reason IS NULL").fetchone()
    assert valid_sum == valid_rows
    assert conn.execute("SELECT COUNT(*) FROM joints WHERE invalid_reason IS NULL AND x_mm IS NULL").fetchone()[0] == 0


def test_ground_truth_matches_the_scene(session):
    _, conn, src = session
    rows = conn.execute("SELECT x_mm, y_mm, z_mm FROM ground_truth WHERE frame_index = 17 ORDER BY joint").fetchall()
    assert np.allclose(rows, src.motion.joints_mm(17 / 30.0))


def test_calibration_row_and_fixed_tables(session):
    _, conn, _ = session
    c = SIMULATED_ZED2_HD720
    cal = conn.execute("SELECT c.serial, c.resolution, c.width, c.height, c.fx, c.fy, c.cx, c.cy, c.baseline_mm, "
                       "c.source, c.file_sha256 FROM calibrations c JOIN sessions s ON s.calibration_id = c.id").fetchone()
    assert cal == ("synthetic", "HD720", 1280, 720, c.fx, c.fy, c.cx, c.cy, 120.0, "synthetic", None)
    assert [r[0] for r in conn.execute("SELECT name FROM joint_names ORDER BY joint")] == list(JOINT_NAMES)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
    kinds = [r[0] for r in conn.execute("SELECT kind FROM events ORDER BY id")]
    assert kinds == ["session_started", "session_ended"]


def test_trajectory_view_one_plain_select(session):
    summary, conn, _ = session
    rows = conn.execute("SELECT frame_index, x_mm, z_mm FROM trajectory WHERE session_uid = ? AND joint_name = 'left_wrist' "
                        "ORDER BY frame_index", (summary["session_id"],)).fetchall()
    assert len(rows) == 45
    direct = conn.execute("SELECT frame_index, x_mm, z_mm FROM joints WHERE joint = 9 ORDER BY frame_index").fetchall()
    assert rows == direct


def test_joint_samples_table_is_without_rowid(session):
    """WITHOUT ROWID keeps the (session, frame, joint) key the storage order; joints is its view."""
    _, conn, _ = session
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'joint_samples'").fetchone()[0]
    assert "WITHOUT ROWID" in sql
    assert conn.execute("SELECT type FROM sqlite_master WHERE name = 'joints'").fetchone() == ("view",)
