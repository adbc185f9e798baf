"""A folder that is just a raw side-by-side video and its factory SN<serial>.conf (no replay.json)
replays too: resolution from the frame size, views rectified with the file, exactly as the UVC
source's rectifier would do it."""
from __future__ import annotations

import cv2
import numpy as np

from appliance.capture.rectify import rectifier_from_file
from appliance.capture.replay import ReplaySource

from . import zed_conf_files as Z


def test_raw_video_and_conf(tmp_path):
    w, h = Z.SIZES["VGA"]
    rng = np.random.default_rng(1)
    raw = [rng.integers(0, 256, (h, 2 * w, 3), dtype=np.uint8) for _ in range(3)]
    vw = cv2.VideoWriter(str(tmp_path / "session.avi"), cv2.VideoWriter_fourcc(*"HFYU"), 15.0, (2 * w, h))
    assert vw.isOpened()
    for f in raw:
        vw.write(f)
    vw.release()
    conf = Z.write(tmp_path / "SN28012345.conf", Z.new_format())

    src = ReplaySource(tmp_path, paced=False)
    assert src.fps_nominal == 15.0 and not src.has_truth
    assert src.calibration.resolution == "VGA" and (src.calibration.width, src.calibration.height) == (w, h)
    rect = rectifier_from_file(conf, "VGA")
    assert src.calibration.fx == rect.calibration.fx and src.calibration.serial == "28012345"
    got = list(src.frames())
    assert [f.index for f in got] == [0, 1, 2]
    assert all(abs(b.t_ns - a.t_ns - 1e9 / 15) <= 1 for a, b in zip(got, got[1:]))
    for f, sbs in zip(got, raw):
        want_l, want_r = rect.rectify(sbs[:, :w], sbs[:, w:])
        assert np.array_equal(f.left, want_l) and np.array_equal(f.right, want_r)
