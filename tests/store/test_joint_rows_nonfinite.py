"""Joint values that are NaN, infinite or too large for a 64-bit integer are stored NULL, silently.

joint_samples holds whole numbers (0.01 mm, 0.001 px, scores x 10^4). NaN is a normal state of
a joint (missing = NaN plus a reason), and an untrained network or a near-zero disparity can give
infinities or absurd magnitudes; wave 1 cast them with NumPy and printed `RuntimeWarning: invalid
value encountered in cast` on every recording with such joints. Every such value is NULL, every
finite one keeps its exact whole number, and no warning is raised (the suite turns
RuntimeWarning into an error).
"""
from __future__ import annotations

import warnings

import numpy as np

from appliance.frames import Keypoints2D, Pose3D
from appliance.joints import NUM_JOINTS
from appliance.store.writer import joint_sample_rows


def _pose(xyz: np.ndarray, uv: np.ndarray, score: np.ndarray) -> Pose3D:
    kp = Keypoints2D(uv_px=uv, score=score)
    reason = ["depth_out_of_range" if not np.all(np.isfinite(xyz[j])) else None for j in range(NUM_JOINTS)]
    return Pose3D(frame_index=4, t_ns=123, xyz_mm=xyz, confidence=np.ones(NUM_JOINTS), epipolar_px=np.zeros(NUM_JOINTS),
                  invalid_reason=tuple(reason), left=kp, right=kp, latency_ms=1.0)


def test_nonfinite_and_huge_values_become_null_without_a_warning():
    xyz = np.tile([10.0, -20.5, 600.25], (NUM_JOINTS, 1))
    xyz[1] = [np.nan, 1.0, 2.0]
    xyz[2] = [np.inf, -np.inf, 3.0]
    xyz[3] = [1e17, -1e17, 4.0]  # x 100 = 1e19: beyond int64
    xyz[4] = [1e306, 5.0, 6.0]  # x 100 overflows the float itself
    uv = np.tile([640.5, 360.25], (NUM_JOINTS, 1))
    uv[5] = [np.nan, 1e300]
    score = np.full(NUM_JOINTS, 0.5)
    score[6] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rows = joint_sample_rows([(9, _pose(xyz, uv, score))])
    assert len(rows) == NUM_JOINTS
    by_joint = {r[2]: r for r in rows}
    assert by_joint[0][:12] == [9, 4, 0, 1000, -2050, 60025, 640500, 360250, 5000, 640500, 360250, 5000]
    assert by_joint[1][3:6] == [None, 100, 200]
    assert by_joint[2][3:6] == [None, None, 300]
    assert by_joint[3][3:6] == [None, None, 400]
    assert by_joint[4][3:6] == [None, 500, 600]
    assert by_joint[5][6:8] == [None, None] and by_joint[5][9:11] == [None, None]
    assert by_joint[6][8] is None and by_joint[6][11] is None
    assert all(type(v) is int for r in rows for v in r[3:12] if v is not None)  # Python ints, not NumPy's
