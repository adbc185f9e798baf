"""The paper's metrics on hand-made cases: 3DPCK over all joints, mean/STD over valid ones, 2D PCK by torso."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.joints import JOINT_INDEX
from appliance.stereo import metrics


def test_3d_accuracy_hand_made():
    """Errors 0, 5, 20, 30 mm and one invalid joint: PCK counts the invalid one as a miss."""
    true = np.zeros((1, 5, 3))
    est = np.array([[[0, 0, 0], [3, 4, 0], [0, 0, 20], [0, 30, 0], [np.nan] * 3]], float)
    acc = metrics.accuracy_3d(est, true)
    assert acc["mean_mm"] == pytest.approx((0 + 5 + 20 + 30) / 4)
    assert acc["std_mm"] == pytest.approx(np.std([0, 5, 20, 30]))
    assert acc["valid_ratio"] == pytest.approx(0.8)
    assert acc["pck_10mm"] == pytest.approx(40.0)    # 0 and 5 of 5 joints
    assert acc["pck_25mm"] == pytest.approx(60.0)    # + 20
    assert acc["pck_50mm"] == pytest.approx(80.0)    # + 30; the invalid joint is still a miss
    assert acc["pck_100mm"] == pytest.approx(80.0)


def test_pck_threshold_is_inclusive():
    assert metrics.pck([10.0, 10.000001], 10.0) == pytest.approx(50.0)


def test_all_invalid_gives_nan_mean_and_zero_ratio():
    mean, std, ratio = metrics.mean_std([np.nan, np.nan])
    assert np.isnan(mean) and np.isnan(std) and ratio == 0.0


def test_2d_pck_uses_right_hip_to_right_shoulder():
    """Torso height 100 px; errors of 4, 9 and 19 px pass at 0.05, 0.1, 0.2 respectively."""
    true = np.zeros((1, 17, 2))
    true[0, JOINT_INDEX["right_shoulder"]] = (0, 0)
    true[0, JOINT_INDEX["right_hip"]] = (0, 100)
    est = true.copy()
    est[0, 0] += (4, 0)
    est[0, 1] += (0, 9)
    est[0, 2] += (19, 0)
    est[0, 3] = np.nan
    assert metrics.pck_2d(est, true, 0.05) == pytest.approx(100 * 14 / 17)
    assert metrics.pck_2d(est, true, 0.1) == pytest.approx(100 * 15 / 17)
    assert metrics.pck_2d(est, true, 0.2) == pytest.approx(100 * 16 / 17)


def test_per_group_uses_table5_groups():
    true = np.zeros((2, 17, 3))
    est = true.copy()
    est[:, JOINT_INDEX["left_hip"], 0] = 30.0
    groups = metrics.accuracy_per_group(est, true)
    assert list(groups) == ["nose", "shoulders", "elbows", "wrists", "hips", "knees", "ankles"]
    assert groups["hips"]["mean_mm"] == pytest.approx(15.0)
    assert groups["knees"]["mean_mm"] == 0.0
