"""The SDK's rectified calibration becomes the same RectifiedCalibration the uvc path records, and its images BGR.

Why: the calibrations row a ZED session stores is what every 3D point rests on. The pure parts of
appliance/capture/zed.py are tested without pyzed: fx, fy, cx, cy of the rectified left camera
and the baseline as the distance |tx| of the stereo transform (mm), the serial and the sha256 of
the SN<serial>.conf the SDK read (the configured settings folder first, then the SDK's default);
a baseline in metres (units not applied), a non-finite value or a non-positive focal length is
refused with one line. Images: BGRA from retrieve_image becomes a contiguous BGR copy that does
not share the SDK's buffer (the Mat is reused by the next grab). Frame rates the ZED lacks at a
resolution are a config error naming capture.fps.
"""
from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from appliance.capture import zed
from appliance.errors import AgmaError, ConfigError


def _cal(**kw):
    args = dict(fx=528.5, fy=528.6, cx=641.2, cy=362.9, tx_mm=-119.88, width=1280, height=720, serial="28012345",
                resolution="HD720", file_sha256="ab" * 32)
    args.update(kw)
    return zed.rectified_calibration(**args)


def test_fields_and_baseline_as_a_distance():
    c = _cal()
    assert (c.fx, c.fy, c.cx, c.cy, c.width, c.height) == (528.5, 528.6, 641.2, 362.9, 1280, 720)
    assert c.baseline_mm == pytest.approx(119.88) and _cal(tx_mm=119.88).baseline_mm == pytest.approx(119.88)
    assert (c.serial, c.resolution, c.source, c.file_sha256) == ("28012345", "HD720", "zed_sdk", "ab" * 32)
    # the geometry the stereo stage uses: a point 1 m away has disparity B f / Z
    left, right = c.project(np.array([0.0, 0.0, 1000.0]))
    assert left[0] - right[0] == pytest.approx(119.88 * 528.5 / 1000.0)


@pytest.mark.parametrize(("kw", "words"), [
    ({"tx_mm": -0.11988}, "not in millimetres"),
    ({"fx": math.nan}, "non-finite fx"),
    ({"tx_mm": math.inf}, "non-finite stereo_transform x"),
    ({"fy": 0.0}, "focal lengths"),
])
def test_implausible_values_are_refused(kw, words):
    with pytest.raises(AgmaError, match=words):
        _cal(**kw)


def test_bgra_becomes_an_independent_bgr_copy():
    bgra = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    bgr = zed.bgra_to_bgr(bgra)
    assert bgr.shape == (2, 3, 3) and bgr.flags.c_contiguous and bgr.flags.owndata
    assert np.array_equal(bgr, bgra[:, :, :3])
    bgra[:] = 0  # the SDK reuses its buffer at the next grab
    assert bgr.any()
    with pytest.raises(AgmaError, match="not \\(H, W, 4\\) uint8 BGRA"):
        zed.bgra_to_bgr(np.zeros((2, 3), np.uint8))
    with pytest.raises(AgmaError):
        zed.bgra_to_bgr(np.zeros((2, 3, 4), np.float32))


def test_frame_rates_per_resolution():
    assert zed.check_fps("HD720", 60.0) == 60 and zed.check_fps("VGA", 100) == 100
    with pytest.raises(ConfigError, match="capture.fps: the ZED runs at 15 frames/s at 2K, not 30"):
        zed.check_fps("2K", 30.0)
    with pytest.raises(ConfigError, match="not 29.97"):
        zed.check_fps("HD720", 29.97)


def test_the_conf_the_sdk_read_and_its_sha(tmp_path):
    settings, state = tmp_path / "settings", tmp_path / "state"
    assert zed.settings_dir("") == zed.DEFAULT_SETTINGS_DIR and zed.settings_dir(str(settings)) == settings
    status = zed.calibration_status("77", str(settings), state)
    assert status["sdk_conf"] is None and status["installed"] is False
    settings.mkdir()
    (settings / "SN77.conf").write_bytes(b"[STEREO]\nBaseline=120\n")
    status = zed.calibration_status("77", str(settings), state)
    assert status["sdk_conf"] == str(settings / "SN77.conf") and status["installed"] is True
    assert status["sdk_conf_sha256"] == hashlib.sha256(b"[STEREO]\nBaseline=120\n").hexdigest()
    (state / "calibration").mkdir(parents=True)
    (state / "calibration" / "SN77.conf").write_bytes(b"another file\n")  # the uvc copy differs: not installed
    status = zed.calibration_status("77", str(settings), state)
    assert status["state_conf"] == str(state / "calibration" / "SN77.conf") and status["installed"] is False
