"""The simulated model: ground-truth joints rendered as heatmaps and decoded like a network's.

For each view: the true 2D joints plus the calibrated error model (appliance.pose.sim.noise) are
mapped into the crop's heatmap space, rendered with ``encode`` (DarkPose's training targets,
sigma 3) at an amplitude that stands for the network's confidence, and handed to
``decode_to_image`` exactly as an engine's output would be. A missed joint is a weak blob
somewhere else in the crop (its score falls below stereo.min_score). So the accuracy measured in
simulation is the accuracy of our own crop, decoding, triangulation and storage.

Needs a source with ground truth.

A hang for tests (sim.faults ``engine_hang``, handed in by the runtime as ``hang_at_s``): from the
first frame captured at or after ``hang_at_s`` on the source's clock (seconds since
``t_origin_ns``; without an origin, since the first frame this model sees) ``estimate`` blocks for
ever, as a wedged GPU call would: nothing but the end of the process ends it.
"""
from __future__ import annotations

import logging
import threading

import numpy as np

from ...frames import Keypoints2D, StereoFrame
from ...joints import NUM_JOINTS
from ..crop import Crop
from ..decode import decode_to_image, encode
from ..engine import ModelInfo
from .noise import NoiseParams, draw_errors

_AMPLITUDE = (0.65, 0.95)       # score of a detected joint, like a trained HRNet's maxima
_MISS_AMPLITUDE = (0.03, 0.15)  # a missed joint's weak maximum
_AMP_STREAM, _MISS_PLACE_STREAM = 4, 5
#: Never set: what a hung estimate waits on.
_NEVER = threading.Event()

log = logging.getLogger(__name__)


class SimulatedHeatmapModel:
    """PoseStage: ground truth + noise -> heatmaps (2, 17, 96, 72) -> decode_to_image."""

    def __init__(self, crop_left: Crop, crop_right: Crop, noise: NoiseParams, seed: int, decoder: str = "dark",
                 hang_at_s: float | None = None, t_origin_ns: int | None = None) -> None:
        self.crops = (crop_left, crop_right)
        self.noise, self.seed, self.decoder = noise, int(seed), decoder
        self.info = ModelInfo(name="simulated", sha256=None)
        self.hang_at_s, self.t_origin_ns = hang_at_s, t_origin_ns

    def heatmaps(self, frame: StereoFrame) -> np.ndarray:
        """float32 (2, 17, 96, 72): what a network would output for this frame."""
        if frame.truth is None:
            raise ValueError(f"frame {frame.index} carries no ground truth; the simulated model needs it")
        errors = draw_errors(self.noise, self.seed, frame.index)
        w, h = self.crops[0].heatmap_wh
        coords = np.empty((2, NUM_JOINTS, 2))
        amp_rng = np.random.default_rng([self.seed, frame.index, _AMP_STREAM])
        amplitude = amp_rng.uniform(*_AMPLITUDE, size=(2, NUM_JOINTS))
        for view, (uv, crop) in enumerate(zip((frame.truth.left_uv_px, frame.truth.right_uv_px), self.crops)):
            coords[view] = crop.image_to_heatmap(uv + errors.err_px[view])
        if errors.missed.any():
            place = np.random.default_rng([self.seed, frame.index, _MISS_PLACE_STREAM])
            n = int(errors.missed.sum())
            coords[errors.missed] = np.column_stack([place.uniform(0, w - 1, n), place.uniform(0, h - 1, n)])
            amplitude[errors.missed] = place.uniform(*_MISS_AMPLITUDE, n)
        maps = encode(coords, heatmap_hw=(h, w))
        maps *= amplitude[..., None, None].astype(np.float32)
        return maps

    def _hang_if_due(self, frame: StereoFrame) -> None:
        if self.hang_at_s is None:
            return
        if self.t_origin_ns is None:
            self.t_origin_ns = frame.t_ns
        t_s = (frame.t_ns - self.t_origin_ns) / 1e9
        if t_s >= self.hang_at_s:
            log.warning("engine_hang: the simulated model blocks in inference from now on (frame at %.3f s of "
                        "the source's clock; fault at %g s)", t_s, self.hang_at_s)
            _NEVER.wait()

    def estimate(self, frame: StereoFrame) -> tuple[Keypoints2D, Keypoints2D]:
        self._hang_if_due(frame)
        uv, scores = decode_to_image(self.heatmaps(frame), self.crops, method=self.decoder)
        return Keypoints2D(uv[0], scores[0]), Keypoints2D(uv[1], scores[1])

