"""The accuracy block is computed from arrays alone, against figures worked out by hand.

The report takes a session's arrays (the caller reads them from the committed rows), so it can be
checked without a database: here every valid joint is 5 mm (a 3-4-5 offset) and 0.5 px off, and
one joint of one frame is missing, which counts as a miss in every PCK and is left out of the means.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.joints import JOINT_INDEX
from appliance.stereo.report import accuracy_block

F, J = 2, 17


def _arrays():
    rng = np.random.default_rng(7)
    truth_xyz = np.column_stack([rng.uniform(-200, 200, F * J), rng.uniform(-200, 200, F * J),
                                 rng.uniform(700, 900, F * J)]).reshape(F, J, 3)
    truth_l = rng.uniform(100, 1100, (F, J, 2))
    truth_l[:, JOINT_INDEX["right_shoulder"]] = (600.0, 300.0)
    truth_l[:, JOINT_INDEX["right_hip"]] = (600.0, 400.0)   # torso 100 px in both views
    truth_r = truth_l - (80.0, 0.0)
    xyz = truth_xyz + (3.0, 4.0, 0.0)
    left, right = truth_l + (0.3, 0.4), truth_r + (0.3, -0.4)
    valid = np.ones((F, J), bool)
    valid[0, 0] = False
    xyz[0, 0] = np.nan
    left[0, 0] = right[0, 0] = np.nan
    return dict(xyz_mm=xyz, left_uv_px=left, right_uv_px=right, valid=valid, truth_xyz_mm=truth_xyz,
                truth_left_uv_px=truth_l, truth_right_uv_px=truth_r)


def test_hand_computed_block():
    acc = accuracy_block(**_arrays())
    hit = 100.0 * (F * J - 1) / (F * J)
    assert acc["mean_mm"] == pytest.approx(5.0) and acc["std_mm"] == pytest.approx(0.0, abs=1e-9)
    assert acc["valid_ratio"] == pytest.approx((F * J - 1) / (F * J))
    assert acc["pck_10mm"] == acc["pck_100mm"] == pytest.approx(hit)
    assert acc["mean_2d_px"] == pytest.approx(0.5)
    # 0.5 px of a 100 px torso is within 5 %: every detected joint of both views hits
    assert acc["pck2d_05"] == acc["pck2d_20"] == pytest.approx(hit)
    assert acc["per_group"]["nose"]["pck_10mm"] == pytest.approx(50.0)
    assert acc["per_group"]["ankles"]["pck_10mm"] == pytest.approx(100.0)


def test_a_30mm_error_misses_25mm_and_hits_50mm():
    a = _arrays()
    a["xyz_mm"] = a["truth_xyz_mm"] + (0.0, 0.0, 30.0)
    acc = accuracy_block(**a)
    assert acc["pck_25mm"] == 0.0 and acc["pck_50mm"] == 100.0 and acc["mean_mm"] == pytest.approx(30.0)


def test_no_truth_or_no_frames_is_no_block():
    a = _arrays()
    assert accuracy_block(**{**a, "truth_xyz_mm": None, "truth_left_uv_px": None, "truth_right_uv_px": None}) is None
    empty = {k: v[:0] for k, v in a.items()}
    assert accuracy_block(**empty) is None
