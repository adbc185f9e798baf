"""The keypoint-level simulated model: exact at zero noise, reproducible per (seed, frame, view)."""
from __future__ import annotations

import numpy as np

from appliance.capture.synthetic import SyntheticSource
from tests.sim_keypoints import SimulatedKeypointModel


def _frames(n=40):
    return list(SyntheticSource(seed=1, n_frames=n, paced=False, render=False).frames())


def test_zero_noise_is_ground_truth():
    f = _frames(1)[0]
    left, right = SimulatedKeypointModel(0.0, 9).estimate(f)
    assert np.allclose(left.uv_px, f.truth.left_uv_px, atol=1e-4)
    assert np.allclose(right.uv_px, f.truth.right_uv_px, atol=1e-4)


def test_noise_depends_only_on_seed_frame_and_view():
    """Dropping frames must not change the noise of the frames that remain."""
    frames = _frames()
    m = SimulatedKeypointModel(2.0, 4)
    all_ = [m.estimate(f)[0].uv_px for f in frames]
    some = [SimulatedKeypointModel(2.0, 4).estimate(f)[0].uv_px for f in frames[::3]]
    assert all(np.array_equal(a, b) for a, b in zip(all_[::3], some))
    l, r = m.estimate(frames[0])
    assert not np.allclose(l.uv_px - frames[0].truth.left_uv_px, r.uv_px - frames[0].truth.right_uv_px)


def test_noise_standard_deviation():
    frames = _frames(200)
    m = SimulatedKeypointModel(3.0, 0)
    err = np.concatenate([m.estimate(f)[0].uv_px - f.truth.left_uv_px for f in frames])
    assert abs(err.std() - 3.0) < 0.15 and abs(err.mean()) < 0.15
