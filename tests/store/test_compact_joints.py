"""Compact storage: what the writer stores in joint_samples reads back through joints as the stage made it.

The recording path of the box (synthetic source, simulated heatmap model with real scores,
validity rules) is recorded, and every frame is recomputed here: each value of the view joints is
the Pose3D's within the rounding (0.01 mm, 0.001 px, 1e-4), confidence and epipolar_px (computed
by the view) are the stereo stage's own within the rounding, NULL exactly where the stage has NaN,
the invalid reason unchanged, and REAL values stay REAL.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import replace

import numpy as np
import pytest

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.joints import NUM_JOINTS
from appliance.pose.stage import build as build_pose
from appliance.runtime.record import record_session
from appliance.stereo.stage import to_pose3d
from appliance.stereo.validity import REASONS, ValidityRules
from appliance.store import schema
from appliance.store.writer import frame_rows, joint_sample_rows
from tests.store.compact_rows import assert_joints_within_rounding

N = 60
OVERRIDES = {"sim.noise_px": (6.0, "test"), "sim.miss_rate": (0.05, "test"), "sim.render": (False, "test"),
             "stereo.max_epipolar_px": (4.0, "test"), "store.dump_dir": ("off", "test")}
JOINTS_COLUMNS = [c.name for c in schema.JOINTS_VIEW.columns]


def _stage(db=None):
    cfg = config.load(None, {**OVERRIDES, **({"store.db": (str(db), "test")} if db else {})}, environ={})
    src = SyntheticSource(seed=6, n_frames=N, paced=False, render=False)
    return cfg, src, build_pose(cfg, src), ValidityRules.from_config(cfg)


def _as_before(session_id: int, pose) -> list[tuple]:
    """The rows schema version 2 stored (floats as the stage computed them, NaN for NULL)."""
    l, r = pose.left, pose.right
    cols = np.column_stack([pose.xyz_mm, pose.confidence, l.uv_px, l.score, r.uv_px, r.score, pose.epipolar_px])
    return [(session_id, pose.frame_index, j, *cols[j].astype(np.float64).tolist(), pose.invalid_reason[j])
            for j in range(NUM_JOINTS)]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    db = tmp_path_factory.mktemp("compact") / "c.sqlite"
    cfg, src, model, _ = _stage(db)
    summary = record_session(cfg, N / 30, True, open_source=lambda: src, build_pose=lambda info: model)
    assert summary["frames"] == N
    conn = sqlite3.connect(db)
    yield conn
    conn.close()


def test_view_equals_the_stage_within_rounding(recorded):
    _, src, model, rules = _stage()
    (sid,) = recorded.execute("SELECT id FROM sessions").fetchone()
    want = []
    for i in range(N):
        frame = src.frame_at(i, t_ns=0)
        want += _as_before(sid, to_pose3d(frame, *model.estimate(frame), rules))
    got = recorded.execute(f"SELECT {', '.join(JOINTS_COLUMNS)} FROM joints ORDER BY frame_index, joint").fetchall()
    assert len(got) == len(want) == N * NUM_JOINTS
    assert assert_joints_within_rounding(want, got, JOINTS_COLUMNS) > 10 * len(want)
    reasons = {r[-1] for r in want}
    assert {None, "low_score", "epipolar_error"} <= reasons  # invalid joints, with their 2D evidence, were exercised
    scores = [r[9] for r in want]
    assert len(set(scores)) > 100 and max(scores) < 1.0  # real heatmap maxima, not the keypoint model's 1


def test_values_keep_their_types(recorded):
    types = {}
    for c in JOINTS_COLUMNS:
        types[c] = {r[0] for r in recorded.execute(f"SELECT DISTINCT typeof({c}) FROM joints")}
    for c in ("session_id", "frame_index", "joint"):
        assert types[c] == {"integer"}, c
    for c in JOINTS_COLUMNS[3:-1]:
        assert types[c] <= {"real", "null"} and "real" in types[c], (c, types[c])
    assert types["invalid_reason"] == {"text", "null"}
    stored = {c.name for c in schema.TABLE_BY_NAME["joint_samples"].columns}
    for c in stored:
        assert {r[0] for r in recorded.execute(f"SELECT DISTINCT typeof({c}) FROM joint_samples")} <= {"integer", "null"}


def test_trajectory_and_joints_agree(recorded):
    traj = recorded.execute("SELECT frame_index, joint, x_mm, y_mm, z_mm, confidence, invalid_reason FROM trajectory "
                            "ORDER BY frame_index, joint").fetchall()
    assert traj == recorded.execute("SELECT frame_index, joint, x_mm, y_mm, z_mm, confidence, invalid_reason "
                                    "FROM joints ORDER BY frame_index, joint").fetchall()


def test_every_reason_has_a_fixed_code():
    codes = dict(schema.INVALID_REASON_CODES)
    assert set(REASONS) <= set(codes.values()) and len(set(codes.values())) == len(codes)
    assert codes == {1: "not_detected", 2: "low_score", 3: "disparity_not_positive", 4: "depth_out_of_range",
                     5: "epipolar_error"}  # never renumbered: stored files depend on it


def test_batch_conversion_nulls_and_rounding():
    _, src, model, rules = _stage()
    poses = [to_pose3d(f, *model.estimate(f), rules) for f in (src.frame_at(i, t_ns=0) for i in range(3))]
    batch = joint_sample_rows([(7, p) for p in poses])
    assert [tuple(r) for r in batch] == [r for p in poses for r in frame_rows(7, p)[1]]
    assert all(type(v) is int for r in batch for v in r if v is not None)

    p = poses[0]
    uv = p.left.uv_px.copy()
    uv[2] = np.nan
    uv[3] = [np.inf, 1.0]
    xyz = p.xyz_mm.copy()
    xyz[2:4] = np.nan
    score = p.left.score.copy()
    score[4] = 0.123449
    reasons = list(p.invalid_reason)
    reasons[2] = reasons[3] = "not_detected"
    q = replace(p, left=replace(p.left, uv_px=uv, score=score), xyz_mm=xyz, invalid_reason=tuple(reasons))
    rows = joint_sample_rows([(7, q)])
    assert rows[2][3:8] == [None] * 5 and rows[2][12] == 1  # x, y, z, left u, v
    assert rows[3][6] is None and rows[3][7] == 1000  # inf -> NULL; 1.0 px -> 1000
    assert rows[4][8] == 1234 and rows[0][8] == round(float(p.left.score[0]) * 1e4)
    assert rows[0][3] == round(float(p.xyz_mm[0, 0]) * 100) or math.isnan(p.xyz_mm[0, 0])

    bad = replace(p, invalid_reason=("cosmic_ray",) + tuple(p.invalid_reason[1:]))
    with pytest.raises(ValueError, match="cosmic_ray"):
        joint_sample_rows([(7, bad)])


def test_view_has_the_former_table_columns(tmp_path):
    """The researcher's column names, in the order `SELECT *` gave them before schema version 3."""
    conn = sqlite3.connect(tmp_path / "s.sqlite")
    schema.create_schema(conn)
    cols = [r[1] for r in conn.execute("PRAGMA table_info(joints)")]
    conn.close()
    assert cols == JOINTS_COLUMNS == ["session_id", "frame_index", "joint", "x_mm", "y_mm", "z_mm", "confidence",
                                      "left_u", "left_v", "left_score", "right_u", "right_v", "right_score",
                                      "epipolar_px", "invalid_reason"]
