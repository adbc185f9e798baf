"""A keypoint-level simulated model for tests where the heatmap decoder is not under test.

True 2D joints plus the product's error model (appliance.pose.sim.noise), without heatmaps: cheaper
than appliance.pose.sim.model.SimulatedHeatmapModel, and its rows are exactly predictable per
(seed, frame_index) for the store's durability and dump tests. Scores are 1, 0 for a missed joint.
"""
from __future__ import annotations

import numpy as np

from appliance.frames import Keypoints2D, StereoFrame
from appliance.pose.engine import ModelInfo
from appliance.pose.sim.noise import NoiseParams, draw_errors


class SimulatedKeypointModel:
    decoder = None

    def __init__(self, noise_px: float, seed: int, noise: NoiseParams | None = None) -> None:
        self.noise = noise if noise is not None else NoiseParams(noise_px=float(noise_px))
        self.seed = int(seed)
        self.info = ModelInfo(name="simulated", sha256=None)

    def estimate(self, frame: StereoFrame) -> tuple[Keypoints2D, Keypoints2D]:
        if frame.truth is None:
            raise ValueError(f"frame {frame.index} carries no ground truth; the simulated model needs it")
        errors = draw_errors(self.noise, self.seed, frame.index)
        out = []
        for view, uv in enumerate((frame.truth.left_uv_px, frame.truth.right_uv_px)):
            score = np.where(errors.missed[view], 0.0, 1.0).astype(np.float32)
            out.append(Keypoints2D(uv_px=(uv + errors.err_px[view]).astype(np.float32), score=score))
        return out[0], out[1]
