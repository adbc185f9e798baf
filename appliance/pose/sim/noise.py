"""The simulated network's 2D error model, calibrated to the paper (pure functions, seeded).

A real network makes nearly the same mistake on two nearly identical views, so most of its 2D
error is shared by the left and right views and cancels in the disparity; only the independent
part moves the depth. Per joint and frame the error in image pixels is

    e_view = sqrt(f) * s + sqrt(1 - f) * i_view          (f = shared_fraction, of the variance)

where s, i_left, i_right are independent draws of one heavy-tailed law: a Gaussian core mixed
with probability ``tail_fraction`` with a Gaussian ``tail_scale`` times wider, scaled so that its
per-axis standard deviation is ``noise_px``. So ``noise_px`` stays the overall per-axis standard
deviation in each view whatever the other parameters. Independently, each joint of each view
is missed with probability ``miss_rate``: the network's maximum for it is weak and elsewhere.

Every draw comes from an RNG keyed by (seed, frame_index, stream), so a frame's error does not
depend on which frames came before it (frames may drop).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...joints import NUM_JOINTS

_SHARED, _LEFT, _RIGHT, _MISS = 2, 0, 1, 3  # RNG streams (left/right keep the skeleton's view numbers)


@dataclass(frozen=True)
class NoiseParams:
    noise_px: float = 0.0
    shared_fraction: float = 0.0
    tail_fraction: float = 0.0
    tail_scale: float = 1.0
    miss_rate: float = 0.0

    @classmethod
    def from_config(cls, cfg) -> NoiseParams:
        return cls(cfg["sim.noise_px"], cfg["sim.shared_fraction"], cfg["sim.tail_fraction"], cfg["sim.tail_scale"],
                   cfg["sim.miss_rate"])

    @property
    def core_px(self) -> float:
        """Standard deviation of the Gaussian core such that the mixture's is noise_px."""
        p, k = self.tail_fraction, self.tail_scale
        return self.noise_px / np.sqrt(1.0 - p + p * k * k)


@dataclass(frozen=True)
class ViewErrors:
    """err_px (2, 17, 2): error added to the true (u, v) of each view; missed (2, 17) bool."""

    err_px: np.ndarray
    missed: np.ndarray


def _rng(seed: int, frame_index: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, frame_index, stream])


def _heavy_tailed(rng: np.random.Generator, params: NoiseParams) -> np.ndarray:
    """(17, 2) draws of the unit-variance-scaled mixture, times core_px."""
    g = rng.standard_normal((NUM_JOINTS, 2))
    if params.tail_fraction > 0:
        wide = rng.random(NUM_JOINTS) < params.tail_fraction
        g[wide] *= params.tail_scale
    return g * params.core_px


def draw_errors(params: NoiseParams, seed: int, frame_index: int) -> ViewErrors:
    """The 2D errors and misses of one frame, both views."""
    err = np.zeros((2, NUM_JOINTS, 2))
    if params.noise_px > 0:
        shared = _heavy_tailed(_rng(seed, frame_index, _SHARED), params)
        a, b = np.sqrt(params.shared_fraction), np.sqrt(1.0 - params.shared_fraction)
        for view, stream in ((0, _LEFT), (1, _RIGHT)):
            err[view] = a * shared + b * _heavy_tailed(_rng(seed, frame_index, stream), params)
    missed = np.zeros((2, NUM_JOINTS), bool)
    if params.miss_rate > 0:
        missed = _rng(seed, frame_index, _MISS).random((2, NUM_JOINTS)) < params.miss_rate
    return ViewErrors(err_px=err, missed=missed)
