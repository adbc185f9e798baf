"""A current-layout ZED 2 file (four resolutions, plain TY/TZ, suffixed rotations, DISTO sections)
parses into exactly the numbers written, for every resolution: a parser that picks the wrong
section, eye or suffix, or loses precision, fails here."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from appliance.capture.zed_calibration import load_zed_calibration

from . import zed_conf_files as Z


@pytest.mark.parametrize("res", ["2K", "FHD", "HD", "VGA"])
def test_every_number_of_every_resolution(tmp_path, res):
    path = tmp_path / "SN28012345.conf"
    text = Z.new_format()
    Z.write(path, text)
    c = load_zed_calibration(path, Z.NAME_OF[res])

    assert c.resolution == Z.NAME_OF[res]
    assert (c.width, c.height) == Z.SIZES[res]
    for eye, cam in (("LEFT", c.left), ("RIGHT", c.right)):
        for key, value in Z.CAMS[res][eye].items():
            got = getattr(cam, key)
            assert type(got) is float and got == value, (eye, key)
    s = c.stereo
    assert (s.baseline_mm, s.ty_mm, s.tz_mm) == (Z.BASELINE_MM, Z.TY_MM, Z.TZ_MM)
    assert (s.rx, s.cv, s.rz) == Z.ROT[res]
    assert c.left_disto.as_dict() == Z.DISTO["LEFT"]
    assert c.right_disto.as_dict() == Z.DISTO["RIGHT"]
    assert c.serial == "28012345"
    assert c.file_sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert c.defaulted == ()


def test_matrices_are_float64_in_opencv_order(tmp_path):
    """K and the 5-vector follow OpenCV (k1, k2, p1, p2, k3); the rational vector k1 k2 p1 p2 k3 k4 k5 k6."""
    c = load_zed_calibration(Z.write(tmp_path / "SN1.conf", Z.new_format()), "HD720")
    v = Z.CAMS["HD"]["LEFT"]
    K = c.left.camera_matrix()
    assert K.dtype == np.float64
    np.testing.assert_array_equal(K, [[v["fx"], 0, v["cx"]], [0, v["fy"], v["cy"]], [0, 0, 1]])
    np.testing.assert_array_equal(c.left.dist_coeffs(), [v["k1"], v["k2"], v["p1"], v["p2"], v["k3"]])
    d = Z.DISTO["RIGHT"]
    np.testing.assert_array_equal(c.right_disto.dist_coeffs(),
                                  [d["k1"], d["k2"], d["p1"], d["p2"], d["k3"], d["k4"], d["k5"], d["k6"]])
