"""The UVC source, with a side-by-side video file standing in for the camera (OpenCV opens both
the same way): each 2W x H frame is split (left half = left eye) and rectified with the factory
file, indices count from 0, timestamps come from the clock at capture and never go back, and a
camera that stops delivering is an error, not a silent end of the session."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from appliance.capture.rectify import rectifier_from_file
from appliance.capture.source import FrameSource
from appliance.capture.uvc import UvcSource
from appliance.errors import AgmaError, ConfigError

from . import zed_conf_files as Z

W, H = Z.SIZES["VGA"]


def _video(path, n, size=(2 * W, H)):
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n)]
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"HFYU"), 30.0, size)
    for f in frames:
        vw.write(f)
    vw.release()
    return frames


def test_split_rectify_index_time(tmp_path):
    raw = _video(tmp_path / "cam.avi", 3)
    conf = Z.write(tmp_path / "SN28012345.conf", Z.new_format())
    src = UvcSource(str(tmp_path / "cam.avi"), conf, resolution="VGA", fps=30)
    assert isinstance(src, FrameSource) and src.name == "uvc" and not src.has_truth
    rect = rectifier_from_file(conf, "VGA")
    assert src.calibration.fx == rect.calibration.fx and src.calibration.source == "uvc"
    got = []
    before = time.time_ns()
    with pytest.raises(AgmaError, match="stopped delivering frames after 3"):
        for f in src.frames():
            got.append(f)
    src.close()
    assert [f.index for f in got] == [0, 1, 2]
    ts = [f.t_ns for f in got]
    assert before <= ts[0] and ts == sorted(ts) and ts[-1] <= time.time_ns()
    for f, sbs in zip(got, raw):
        want_l, want_r = rect.rectify(sbs[:, :W], sbs[:, W:])
        assert np.array_equal(f.left, want_l) and np.array_equal(f.right, want_r)


def test_close_ends_frames_quietly(tmp_path):
    _video(tmp_path / "cam.avi", 5)
    src = UvcSource(str(tmp_path / "cam.avi"), Z.write(tmp_path / "SN1.conf", Z.new_format()), resolution="VGA")
    it = src.frames()
    next(it)
    src.close()
    assert list(it) == []


def test_device_that_cannot_be_opened(tmp_path):
    conf = Z.write(tmp_path / "SN1.conf", Z.new_format())
    with pytest.raises(AgmaError, match="cannot open the ZED as a UVC camera at '/dev/video-agma-test-none'"):
        UvcSource("/dev/video-agma-test-none", conf)


def test_device_with_the_wrong_frame_size(tmp_path):
    _video(tmp_path / "webcam.avi", 1, size=(640, 480))
    with pytest.raises(AgmaError, match="delivers 640x480, not the 1344x376 side-by-side"):
        UvcSource(str(tmp_path / "webcam.avi"), Z.write(tmp_path / "SN1.conf", Z.new_format()), resolution="VGA")


def test_calibration_errors_come_first(tmp_path, monkeypatch):
    """A broken or missing calibration is a configuration error (78) even with no camera attached."""
    bad = Z.write(tmp_path / "SN1.conf", "[STEREO]\nBaseline=1x\n")
    with pytest.raises(ConfigError):
        UvcSource("/dev/video-agma-test-none", bad)
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "empty-state"))
    with pytest.raises(ConfigError, match="agma calib install"):
        UvcSource(0, None)
