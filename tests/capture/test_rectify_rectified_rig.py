"""An already rectified rig (identical pinholes, zero distortion and rotation, TY = TZ = 0: the
.conf a synthetic replay carries) comes out with exactly its own intrinsics and untouched
pixels; OpenCV's general path agrees with it to 1e-4 px, which is why passing it through is safe."""
from __future__ import annotations

import cv2
import numpy as np

from appliance.capture.rectify import Rectifier, compute_rectification
from appliance.capture.zed_calibration import parse_zed_conf

CONF = """[LEFT_CAM_HD]
fx=530.0
fy=530.0
cx=639.5
cy=359.5
k1=0
k2=0
p1=0
p2=0
k3=0
[RIGHT_CAM_HD]
fx=530.0
fy=530.0
cx=639.5
cy=359.5
k1=0
k2=0
p1=0
p2=0
k3=0
[STEREO]
Baseline=120.0
TY=0
TZ=0
CV_HD=0
RX_HD=0
RZ_HD=0
"""


def test_passes_through_exactly():
    rect = Rectifier(parse_zed_conf(CONF, "HD720", where="SNsynthetic.conf", serial="synthetic"), source="replay")
    c = rect.calibration
    assert (c.fx, c.fy, c.cx, c.cy, c.baseline_mm, c.width, c.height) == (530.0, 530.0, 639.5, 359.5, 120.0, 1280, 720)
    assert rect.is_identity
    img = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    left, right = rect.rectify(img, img[::-1])
    assert np.array_equal(left, img) and np.array_equal(right, img[::-1])
    pts = np.array([[10.25, 20.5], [1200.0, 700.75]])
    a, b = rect.rectify_points(pts, pts)
    np.testing.assert_allclose(a, pts, atol=1e-9)


def test_opencv_general_path_agrees():
    K = np.array([[530.0, 0, 639.5], [0, 530.0, 359.5], [0, 0, 1]])
    R1, R2, P1, P2, Q, _, _ = cv2.stereoRectify(K, np.zeros(5), K, np.zeros(5), (1280, 720), np.eye(3),
                                                np.array([[-120.0], [0], [0]]), flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)
    r = compute_rectification(K, np.zeros(5), K, np.zeros(5), np.eye(3), np.array([-120.0, 0, 0]), (1280, 720))
    np.testing.assert_allclose(r.P1, P1, atol=1e-4)
    np.testing.assert_allclose(r.P2, P2, atol=1e-4 * 120)
    np.testing.assert_allclose(r.Q, Q, atol=1e-6)
    np.testing.assert_allclose(r.R1, R1, atol=1e-12)
