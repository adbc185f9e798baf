"""The rectification is right, and a sign error in T would be caught.

Known 3D points are projected into a ZED-like rig's raw (distorted, unrectified) images through
OpenCV's forward model (cv2.projectPoints with R = Rodrigues([RX, CV, RZ]), T = [-B, TY, TZ]).
After our rectification (the file parsed, then cv2.undistortPoints with R1/P1 and R2/P2) the two
views of every point share a row to 0.1 px, and Z = baseline·fx / disparity gives each point's
true depth to 0.1 %, with the whole 3D point back in the raw left frame. Passing T with its X
sign flipped (what Stereolabs' samples do) must fail those checks, so the test can tell.
"""
from __future__ import annotations

import numpy as np

from appliance.capture.rectify import Rectifier, compute_rectification, rectifier_from_file

from . import rig
from . import zed_conf_files as Z


def _triangulate(left, right, fx, fy, cx, cy, baseline_mm):
    disparity = left[:, 0] - right[:, 0]
    z = baseline_mm * fx / disparity
    return np.c_[(left[:, 0] - cx) * z / fx, (left[:, 1] - cy) * z / fy, z]


def test_rows_align_and_depth_is_true(tmp_path):
    rect = rectifier_from_file(Z.write(tmp_path / "SN5.conf", Z.new_format()), "HD720")
    X = rig.points()
    uvl, uvr, inside = rig.project(X)
    assert inside.sum() > 150
    left, right = rect.rectify_points(uvl[inside], uvr[inside])
    assert np.abs(left[:, 1] - right[:, 1]).max() < 0.1

    c = rect.calibration
    X_rect = _triangulate(left, right, c.fx, c.fy, c.cx, c.cy, c.baseline_mm)
    R1 = rect.rectification.R1
    true_rect = X[inside] @ R1.T  # the same points in the rectified left camera frame
    assert np.abs(X_rect[:, 2] / true_rect[:, 2] - 1).max() < 1e-3
    # independent of R1: distance from the left camera centre is invariant under its rotation
    ratio = np.linalg.norm(X_rect, axis=1) / np.linalg.norm(X[inside], axis=1)
    assert np.abs(ratio - 1).max() < 1e-3
    # and back in the raw left frame every coordinate is right
    back = X_rect @ R1
    assert np.abs(back - X[inside]).max() < 1e-3 * X[:, 2].max()
    # R1 is a small rotation (a few mrad), not a flip
    assert np.allclose(R1 @ R1.T, np.eye(3), atol=1e-12) and np.trace(R1) > 3 - 1e-3
    assert abs(c.baseline_mm - Z.BASELINE_MM) < 0.01 * Z.BASELINE_MM


def test_flipped_translation_sign_is_caught():
    K1, D1, K2, D2, rvec, T = rig.rig()
    import cv2

    R = cv2.Rodrigues(rvec)[0]
    wrong = T * np.array([-1.0, 1.0, 1.0])  # +Baseline, as Stereolabs' OpenCV samples pass it
    r = compute_rectification(K1, D1, K2, D2, R, wrong, (rig.W, rig.H))
    X = rig.points()
    uvl, uvr, inside = rig.project(X)
    from appliance.capture.rectify import _undistort_points

    left = _undistort_points(uvl[inside], K1, D1, r.R1, r.P1)
    right = _undistort_points(uvr[inside], K2, D2, r.R2, r.P2)
    rows_ok = np.abs(left[:, 1] - right[:, 1]).max() < 0.1
    z = r.baseline_mm * r.fx / (left[:, 0] - right[:, 0])
    depth_ok = np.abs(z / (X[inside] @ r.R1.T)[:, 2] - 1).max() < 1e-3
    assert not (rows_ok and depth_ok)
    assert r.baseline_mm < 0  # and the Rectifier refuses such a rig (see below)


def test_rectifier_refuses_a_rig_whose_baseline_comes_out_negative(tmp_path, monkeypatch):
    from appliance.capture.zed_calibration import StereoExtrinsics, load_zed_calibration
    from appliance.errors import ConfigError
    import pytest

    zed = load_zed_calibration(Z.write(tmp_path / "SN5.conf", Z.new_format()), "HD720")
    monkeypatch.setattr(StereoExtrinsics, "translation_mm", lambda self: np.array([self.baseline_mm, self.ty_mm, self.tz_mm]))
    with pytest.raises(ConfigError, match="baseline"):
        Rectifier(zed)
