"""The simulated error model: its parameters mean what the config says they mean."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.pose.sim.noise import NoiseParams, draw_errors


def _sample(params, frames=3000, seed=0):
    e = [draw_errors(params, seed, i) for i in range(frames)]
    return np.stack([x.err_px for x in e]), np.stack([x.missed for x in e])  # (F, 2, 17, 2), (F, 2, 17)


def test_zero_noise_zero_error_and_misses_apart():
    """--sim-noise-px 0 turns every part of the error off; misses stay governed by miss_rate."""
    err, missed = _sample(NoiseParams(0.0, 0.9, 0.1, 5.0, 0.0), frames=50)
    assert not err.any() and not missed.any()
    err, missed = _sample(NoiseParams(0.0, 0.9, 0.1, 5.0, 0.05), frames=400)
    assert not err.any()
    assert missed.mean() == pytest.approx(0.05, abs=0.01)


@pytest.mark.parametrize("tail_fraction, tail_scale", [(0.0, 1.0), (0.05, 5.0), (0.2, 3.0)])
def test_noise_px_is_the_overall_per_axis_std(tail_fraction, tail_scale):
    """Whatever the tail, each view's per-axis standard deviation is noise_px."""
    err, _ = _sample(NoiseParams(4.0, 0.8, tail_fraction, tail_scale, 0.0))
    assert err.std() == pytest.approx(4.0, rel=0.04)
    assert abs(err.mean()) < 0.1


@pytest.mark.parametrize("f", [0.0, 0.5, 0.9])
def test_shared_fraction_is_the_left_right_correlation(f):
    """The shared part cancels in the disparity: corr(e_left, e_right) = shared_fraction."""
    err, _ = _sample(NoiseParams(3.0, f, 0.0, 1.0, 0.0))
    corr = np.corrcoef(err[:, 0].ravel(), err[:, 1].ravel())[0, 1]
    assert corr == pytest.approx(f, abs=0.03)
    diff_var = (err[:, 0] - err[:, 1]).var()
    assert diff_var == pytest.approx(2 * (1 - f) * 9.0, rel=0.06, abs=0.05)


def test_tail_is_heavier_than_gaussian():
    """With a tail the kurtosis exceeds a Gaussian's 3: more large errors at the same STD."""
    err, _ = _sample(NoiseParams(3.0, 0.0, 0.05, 5.0, 0.0))
    x = err.ravel() / err.std()
    assert (x ** 4).mean() > 6.0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31), st.integers(0, 10**6))
def test_errors_depend_only_on_seed_and_frame(seed, frame):
    p = NoiseParams(2.0, 0.5, 0.1, 3.0, 0.1)
    a, b = draw_errors(p, seed, frame), draw_errors(p, seed, frame)
    assert np.array_equal(a.err_px, b.err_px) and np.array_equal(a.missed, b.missed)
    c = draw_errors(p, seed, frame + 1)
    assert not np.array_equal(a.err_px, c.err_px)
