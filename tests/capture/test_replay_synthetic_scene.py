"""The synthetic scene (full 1280x720 drawings) survives a replay: pixels, truth and the
RectifiedCalibration's numbers are exactly the original session's, so a replayed session can be
scored against the same ground truth."""
from __future__ import annotations

import numpy as np

from appliance.capture.replay import ReplaySource, write_replay
from appliance.capture.synthetic import SyntheticSource


def test_synthetic_session_replays_exactly(tmp_path):
    src = SyntheticSource(seed=3, n_frames=4, paced=False)
    frames = list(src.frames())
    info = write_replay(tmp_path / "rec", frames, fps=src.fps_nominal)
    assert info.codec in ("FFV1", "PNG")
    rep = ReplaySource(tmp_path / "rec", paced=False)
    got = list(rep.frames())
    assert [f.index for f in got] == [0, 1, 2, 3]
    for a, b in zip(frames, got):
        assert np.array_equal(a.left, b.left) and np.array_equal(a.right, b.right)
        assert np.array_equal(a.truth.xyz_mm, b.truth.xyz_mm)
        assert np.array_equal(a.truth.right_uv_px, b.truth.right_uv_px)
        assert b.t_ns == a.t_ns
    c, o = rep.calibration, src.calibration
    assert (c.fx, c.fy, c.cx, c.cy, c.baseline_mm, c.width, c.height) == (o.fx, o.fy, o.cx, o.cy, o.baseline_mm, o.width, o.height)
