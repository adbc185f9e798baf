"""R and T follow the Stereolabs convention X_r = R·X_l + T with T = [-Baseline, TY, TZ] and
R = Rodrigues([RX, CV, RZ]); checked against a Rodrigues formula written out here, not cv2's."""
from __future__ import annotations

import numpy as np

from appliance.capture.zed_calibration import load_zed_calibration

from . import zed_conf_files as Z


def _rodrigues(r):
    r = np.asarray(r, float)
    theta = np.linalg.norm(r)
    k = r / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.cos(theta) * np.eye(3) + (1 - np.cos(theta)) * np.outer(k, k) + np.sin(theta) * kx


def test_translation_points_from_right_to_left_camera(tmp_path):
    c = load_zed_calibration(Z.write(tmp_path / "SN1.conf", Z.new_format()), "HD720")
    np.testing.assert_array_equal(c.stereo.translation_mm(), [-Z.BASELINE_MM, Z.TY_MM, Z.TZ_MM])
    # the right camera's centre, in left coordinates, is -R^T T: about +Baseline along X
    centre = -c.stereo.rotation().T @ c.stereo.translation_mm()
    assert abs(centre[0] - Z.BASELINE_MM) < 0.01 * Z.BASELINE_MM


def test_rotation_is_rodrigues_of_rx_cv_rz(tmp_path):
    for name, res in (("HD720", "HD"), ("VGA", "VGA")):
        c = load_zed_calibration(Z.write(tmp_path / "SN1.conf", Z.new_format()), name)
        rx, cv, rz = Z.ROT[res]
        np.testing.assert_allclose(c.stereo.rotation(), _rodrigues([rx, cv, rz]), atol=1e-15)
