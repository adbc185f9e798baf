"""Each validity rule turns a joint into NaN with its own reason, checked in the documented order."""
from __future__ import annotations

import numpy as np

from appliance.frames import Keypoints2D, RectifiedCalibration
from appliance.stereo.stage import triangulate_joints
from appliance.stereo.validity import REASONS, ValidityRules

CAL = RectifiedCalibration(width=1280, height=720, fx=530.0, fy=530.0, cx=639.5, cy=359.5, baseline_mm=120.0)
RULES = ValidityRules(min_score=0.5, min_depth_mm=400.0, max_depth_mm=1200.0, max_epipolar_px=3.0)


def _case():
    xyz = np.column_stack([np.linspace(-100, 100, 17), np.linspace(-150, 150, 17), np.full(17, 800.0)])
    lu, ru = CAL.project(xyz)
    return xyz, lu.astype(np.float32), ru.astype(np.float32), np.ones(17, np.float32), np.ones(17, np.float32)


def test_each_rule_gives_its_reason():
    xyz, lu, ru, ls, rs = _case()
    lu[0] = np.nan                       # not_detected
    rs[1] = 0.4                          # low_score (below 0.5)
    ru[2, 0] = lu[2, 0] + 1.0            # disparity_not_positive
    ru[3, 0] = lu[3, 0] - 500.0          # disparity 500 px -> Z = 127 mm: too near
    ru[4, 0] = lu[4, 0] - 40.0           # disparity 40 px -> Z = 1590 mm: too far
    ru[5, 1] = lu[5, 1] + 3.5            # epipolar error 3.5 px > 3
    ru[6, 1] = lu[6, 1] + 2.5            # within the epipolar limit: valid
    out, conf, epi, reasons = triangulate_joints(Keypoints2D(lu, ls), Keypoints2D(ru, rs), CAL, RULES)
    assert reasons[:7] == ("not_detected", "low_score", "disparity_not_positive", "depth_out_of_range",
                           "depth_out_of_range", "epipolar_error", None)
    assert all(r is None for r in reasons[7:])
    bad = [r is not None for r in reasons]
    assert np.isnan(out[bad]).all() and np.isfinite(out[~np.array(bad)]).all()
    assert np.allclose(out[7:], xyz[7:], atol=1e-3)
    assert conf[1] == np.float32(0.4) and np.isclose(epi[5], 3.5)
    assert set(r for r in reasons if r) <= set(REASONS)


def test_first_reason_wins():
    """A joint failing several rules reports the first in the documented order."""
    xyz, lu, ru, ls, rs = _case()
    ls[0] = 0.0                          # low score ...
    ru[0, 0] = lu[0, 0] + 5.0            # ... and a negative disparity
    _, _, _, reasons = triangulate_joints(Keypoints2D(lu, ls), Keypoints2D(ru, rs), CAL, RULES)
    assert reasons[0] == "low_score"


def test_nan_score_is_low_score():
    """A NaN score never passes a threshold."""
    xyz, lu, ru, ls, rs = _case()
    ls[3] = np.nan
    _, _, _, reasons = triangulate_joints(Keypoints2D(lu, ls), Keypoints2D(ru, rs), CAL, RULES)
    assert reasons[3] == "low_score"
