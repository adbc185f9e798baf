"""A written replay reads back as the same frames: identical pixels (the codec is lossless),
identical indices, timestamps and ground truth, and exactly the same rectified intrinsics (the
.conf written for rectified views is passed through, not re-rectified). Checked for each codec."""
from __future__ import annotations

import json

import numpy as np
import pytest

from appliance.capture.replay import ReplaySource, write_replay
from appliance.capture.source import FrameSource

from . import replay_frames


@pytest.mark.parametrize("codec, storage", [("auto", "video"), ("ffv1", "video"), ("huffyuv", "video"), ("png", "images")])
def test_frames_come_back_identical(tmp_path, codec, storage):
    frames = replay_frames.frames()
    info = write_replay(tmp_path / "rec", frames, fps=30.0, codec=codec)
    assert info.frames == len(frames) and info.storage == storage and info.has_truth
    src = ReplaySource(tmp_path / "rec", paced=False)
    assert isinstance(src, FrameSource)
    assert src.has_truth and src.fps_nominal == 30.0 and src.name == "replay"
    got = list(src.frames())
    assert len(got) == len(frames)
    for a, b in zip(frames, got):
        assert (b.index, b.t_ns) == (a.index, a.t_ns)
        assert b.left.dtype == np.uint8 and b.left.shape == a.left.shape
        assert np.array_equal(b.left, a.left) and np.array_equal(b.right, a.right)
        for k in ("xyz_mm", "left_uv_px", "right_uv_px"):
            assert np.array_equal(getattr(b.truth, k), getattr(a.truth, k))
        assert b.received_mono_ns > 0
    c, o = src.calibration, frames[0].calibration
    assert (c.fx, c.fy, c.cx, c.cy, c.baseline_mm, c.width, c.height) == (o.fx, o.fy, o.cx, o.cy, o.baseline_mm, o.width, o.height)
    assert (c.serial, c.resolution, c.source) == ("synthetic", "HD720", "replay") and len(c.file_sha256) == 64
    manifest = json.loads((tmp_path / "rec" / "replay.json").read_text())
    assert manifest["frames"] == len(frames) and manifest["views_rectified"] is True


def test_without_truth(tmp_path):
    write_replay(tmp_path / "rec", replay_frames.frames(n=3, truth=False), fps=15.0)
    src = ReplaySource(tmp_path / "rec", paced=False)
    assert not src.has_truth and src.fps_nominal == 15.0
    assert all(f.truth is None for f in src.frames())
    assert not (tmp_path / "rec" / "truth.npz").exists()


def test_partial_truth_is_per_frame(tmp_path):
    frames = replay_frames.frames(n=4)
    frames[2] = type(frames[2])(**{**frames[2].__dict__, "truth": None})
    write_replay(tmp_path / "rec", frames, fps=30.0, codec="png")
    src = ReplaySource(tmp_path / "rec", paced=False)
    assert not src.has_truth
    assert [f.truth is None for f in src.frames()] == [False, False, True, False]
