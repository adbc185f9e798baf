"""The simulated model: ground-truth 2D joints plus reproducible noise, for sources with ground truth.

Keypoint-level stand-in: each view's true (u, v) plus Gaussian noise of ``noise_px`` standard
deviation per axis, drawn from an RNG keyed by (seed, frame_index, view) so that a run is
reproducible even when frames drop. Scores are 1.
"""
from __future__ import annotations

import numpy as np

from ..frames import Keypoints2D, StereoFrame
from ..joints import NUM_JOINTS
from .engine import ModelInfo

LEFT, RIGHT = 0, 1


def noise_rng(seed: int, frame_index: int, view: int) -> np.random.Generator:
    """The RNG of one view of one frame: independent of every other frame and view."""
    return np.random.default_rng([seed, frame_index, view])


class SimulatedKeypointModel:
    decoder = None

    def __init__(self, noise_px: float, seed: int) -> None:
        self.noise_px, self.seed = float(noise_px), int(seed)
        self.info = ModelInfo(name="simulated", sha256=None)

    def estimate(self, frame: StereoFrame) -> tuple[Keypoints2D, Keypoints2D]:
        if frame.truth is None:
            raise ValueError(f"frame {frame.index} carries no ground truth; the simulated model needs it")
        out = []
        for view, uv in ((LEFT, frame.truth.left_uv_px), (RIGHT, frame.truth.right_uv_px)):
            noise = noise_rng(self.seed, frame.index, view).normal(0.0, 1.0, size=(NUM_JOINTS, 2)) * self.noise_px
            out.append(Keypoints2D(uv_px=(uv + noise).astype(np.float32), score=np.ones(NUM_JOINTS, np.float32)))
        return out[0], out[1]
