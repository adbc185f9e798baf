"""A joint that is missing or off any image is a normal case for the stereo stage: NaN plus a reason, silently.

NaN is how a missing 2D position travels (a heatmap without a positive maximum); a position
beyond float32's range is +-inf. Neither may print a NumPy ``RuntimeWarning`` (a recording with
an untrained network printed ``invalid value encountered in subtract`` for inf - inf), nor turn
into a finite 3D point: before, u_left = inf gave Z = B f / inf = 0 and Y = 0, a "point" at the
camera. Each such joint is ``not_detected`` (no finite 2D position in a view).
"""
from __future__ import annotations

import warnings

import numpy as np

from appliance.frames import Keypoints2D, RectifiedCalibration
from appliance.stereo.stage import triangulate_joints
from appliance.stereo.validity import ValidityRules

CAL = RectifiedCalibration(width=1280, height=720, fx=530.0, fy=530.0, cx=639.5, cy=359.5, baseline_mm=120.0)


def test_non_finite_inputs_give_nan_quietly():
    left = np.array([[np.inf, 300.0], [np.inf, 300.0], [np.nan, 300.0], [-np.inf, np.inf], [706.0, 400.0]])
    right = np.array([[np.inf, 300.0], [600.0, 300.0], [600.0, 300.0], [600.0, np.inf], [626.5, 400.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xyz, epi = CAL.triangulate(left, right)
    assert np.isnan(xyz[:4]).all()  # never Z = 0 from a disparity of inf
    assert np.allclose(xyz[4], [(706.0 - 639.5) * 800.0 / 530.0, (400.0 - 359.5) * 800.0 / 530.0, 800.0])
    assert epi[0] == 0.0 and np.isnan(epi[3]) and epi[4] == 0.0


def test_non_finite_joints_are_not_detected():
    lu = np.full((17, 2), [706.0, 400.0], np.float32)
    ru = np.full((17, 2), [626.5, 400.0], np.float32)
    lu[0], ru[0] = [np.inf, 400.0], [np.inf, 400.0]     # both views off the image
    lu[1] = [np.nan, np.nan]                            # left view missing
    ru[2] = [626.5, -np.inf]
    ones = np.ones(17, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xyz, _, _, reasons = triangulate_joints(Keypoints2D(lu, ones), Keypoints2D(ru, ones), CAL, ValidityRules())
    assert reasons[:3] == ("not_detected",) * 3 and all(r is None for r in reasons[3:])
    assert np.isnan(xyz[:3]).all() and np.isfinite(xyz[3:]).all()
