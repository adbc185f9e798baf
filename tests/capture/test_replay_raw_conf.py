"""write_replay with a factory .conf text stores the views as given (raw camera views) with that
file, and the replay rectifies them with it: what a raw camera recording would be."""
from __future__ import annotations

import json

import numpy as np

from appliance.capture.rectify import rectifier_from_file
from appliance.capture.replay import ReplaySource, write_replay
from appliance.frames import RectifiedCalibration

from . import replay_frames
from . import zed_conf_files as Z


def test_raw_views_rectified_on_replay(tmp_path):
    w, h = Z.SIZES["VGA"]
    cal = RectifiedCalibration(width=w, height=h, fx=264.0, fy=264.0, cx=335.5, cy=187.5, baseline_mm=120.0,
                               serial="28012345", resolution="VGA", source="uvc")
    frames = replay_frames.frames(n=2, calibration=cal, truth=False)
    text = Z.new_format()
    write_replay(tmp_path / "rec", frames, fps=30.0, calibration=text, codec="huffyuv")
    manifest = json.loads((tmp_path / "rec" / "replay.json").read_text())
    assert manifest["views_rectified"] is False and manifest["calibration_file"] == "SN28012345.conf"
    assert (tmp_path / "rec" / "SN28012345.conf").read_text() == text
    rect = rectifier_from_file(tmp_path / "rec" / "SN28012345.conf", "VGA")
    src = ReplaySource(tmp_path / "rec", paced=False)
    assert src.calibration.fx == rect.calibration.fx and not src.rectifier.is_identity
    for f, raw in zip(src.frames(), frames):
        want_l, want_r = rect.rectify(raw.left, raw.right)
        assert np.array_equal(f.left, want_l) and np.array_equal(f.right, want_r)
