"""Preprocessing of the pose stage: crops, network input batch, flip test; and the network stage.

Per view, the crop (appliance.pose.crop) comes from

- the **previous frame's keypoints** when tracking is on and at least ``min_joints`` joints had a
  score >= ``min_score``: the box around those joints, grown by ``margin`` of its size on every
  side (keypoints lie inside the body: the head top and feet reach beyond them), then the
  references' rule (3:4 aspect, 1.25 padding);
- otherwise (first frame, infant lost, tracking off, tracked box smaller than ``min_box_px``)
  the configured **region of interest** (the warmer area), or the whole image when none is set.

The tracked box is clipped to the image: a network's joints can land outside the image (at the
edge of a crop that reaches past it), and without the clip each frame's crop would be the
previous one grown by the margin and the padding (x 1.6), without end (an untrained network
drove it to 1e38 px in a few seconds).

The warped 384x288 BGR uint8 crops become one float32 batch (N, 3, 384, 288): BGR -> RGB,
/255, normalised with the model contract's mean and std (DESIGN.md). Both views share the
batch: [left, right]; with the flip test, [left, right, mirrored left, mirrored right], and
:meth:`Preprocessor.merge` averages each view's heatmaps with its mirror's flipped back
(``crop.flip_back``, the model's convention: DarkPose "dark" needs no shift, HRNet "hrnet" a
one-column shift).

:class:`HeatmapPoseStage` wires preprocessing -> HeatmapEngine -> decode_to_image into the
pose stage protocol (appliance.pose.stage.PoseStage). An engine with ``infer_views_on_device``
(the TensorRT engine) is given the frame's two uint8 views and their crops instead of a batch:
the same preprocessing runs there as a CUDA kernel (pose/cuda/preprocess.cuh, OpenCV's warp
arithmetic) into the engine's input. An engine with ``infer_on_device`` keeps the heatmaps on the GPU: the merge runs there as a kernel
(``GpuHeatmaps.merge_flip``, the same arithmetic as :meth:`Preprocessor.merge`) and
``decode_to_image`` dispatches to the CUDA decoder, so only N x 17 x 3 floats come back. Any
other engine (ONNX Runtime, the simulated model) returns host arrays, merged and decoded here.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..frames import Keypoints2D, StereoFrame
from .crop import Crop, crop_from_box, flip_back
from .decode import decode_to_image
from .engine import INPUT_HEIGHT, INPUT_WIDTH, MODEL_MEAN, MODEL_STD, HeatmapEngine, ModelInfo

#: Per channel (R, G, B): x_norm = x_uint8 * NORM_SCALE + NORM_OFFSET == (x / 255 - mean) / std.
NORM_SCALE = (1.0 / (255.0 * np.asarray(MODEL_STD, dtype=np.float64))).astype(np.float32)
NORM_OFFSET = (-np.asarray(MODEL_MEAN, dtype=np.float64) / np.asarray(MODEL_STD, dtype=np.float64)).astype(np.float32)

CROP_SOURCES = ("roi", "tracked")


@dataclass(frozen=True)
class CropPolicy:
    """How each view's crop is chosen.

    roi_xywh:        region of interest (x, y, w, h) in image px for both views (None: the
                     whole image); roi_right_xywh overrides it for the right view.
    track:           follow the previous frame's keypoints.
    margin:          fraction of the keypoints' box added on each side before the 1.25 padding.
    min_score:       a joint counts for tracking from this score.
    min_joints:      fewer confident joints than this: fall back to the ROI.
    min_box_px:      a tracked box (after the margin) smaller than this on its longer side:
                     fall back to the ROI.
    convention:      pixel convention of the model ("dark" for DarkPose, "hrnet").
    """

    roi_xywh: tuple[float, float, float, float] | None = None
    roi_right_xywh: tuple[float, float, float, float] | None = None
    track: bool = True
    margin: float = 0.15
    min_score: float = 0.3
    min_joints: int = 6
    min_box_px: float = 32.0
    convention: str = "dark"


def roi_crop(image_wh: tuple[int, int] | None, roi_xywh: Sequence[float] | None, convention: str = "dark") -> Crop:
    """The crop of a region of interest (x, y, w, h) px, or of the whole image (w, h) when None."""
    if roi_xywh is None:
        w, h = image_wh
        roi_xywh = (0.0, 0.0, float(w), float(h))
    x, y, w, h = (float(v) for v in roi_xywh)
    return crop_from_box(x, y, w, h, convention=convention)


def tracked_crop(previous: Keypoints2D | None, policy: CropPolicy,
                 image_wh: tuple[int, int] | None = None) -> Crop | None:
    """The crop around the previous frame's confident joints, or None when it cannot be trusted.

    ``image_wh`` (w, h) given: the box (after the margin) is clipped to the image [0, w] x [0, h].
    """
    if previous is None or not policy.track:
        return None
    uv = np.asarray(previous.uv_px, dtype=np.float64)
    ok = np.isfinite(uv).all(axis=1) & (np.asarray(previous.score) >= policy.min_score)
    if int(ok.sum()) < policy.min_joints:
        return None
    lo, hi = uv[ok].min(axis=0), uv[ok].max(axis=0)
    size = hi - lo
    lo, size = lo - policy.margin * size, size * (1.0 + 2.0 * policy.margin)
    if image_wh is not None:
        hi = np.minimum(lo + size, np.asarray(image_wh, dtype=np.float64))
        lo = np.maximum(lo, 0.0)
        size = hi - lo
        if not (size > 0).all():  # every confident joint beside or beyond one of the image's sides
            return None
    if max(size) < policy.min_box_px:
        return None
    return crop_from_box(lo[0], lo[1], max(size[0], 1.0), max(size[1], 1.0), convention=policy.convention)


def normalise_into(crop_bgr: np.ndarray, out_chw: np.ndarray) -> np.ndarray:
    """Warped crop (384, 288, 3) uint8 BGR -> ``out_chw`` (3, 384, 288) float32 RGB, normalised."""
    for c in range(3):  # output channel c (R, G, B) reads BGR plane 2 - c
        np.multiply(crop_bgr[:, :, 2 - c], NORM_SCALE[c], out=out_chw[c], dtype=np.float32)
        out_chw[c] += NORM_OFFSET[c]
    return out_chw


class Preprocessor:
    """Frame + previous keypoints -> (crops, batch); heatmaps of the batch -> one map per view."""

    def __init__(self, policy: CropPolicy | None = None, flip_test: bool = False) -> None:
        self.policy = policy or CropPolicy()
        self.flip_test = bool(flip_test)
        self._roi_cache: dict[tuple, Crop] = {}
        self._out: np.ndarray | None = None  # batch(reuse=True): the batch and the warped crops
        self._warped: list[np.ndarray] = []

    def _roi(self, image_wh: tuple[int, int], view: int) -> Crop:
        roi = self.policy.roi_right_xywh if view == 1 and self.policy.roi_right_xywh else self.policy.roi_xywh
        key = (image_wh, view, roi)
        if key not in self._roi_cache:
            self._roi_cache[key] = roi_crop(image_wh, roi, self.policy.convention)
        return self._roi_cache[key]

    def crops(self, frame: StereoFrame,
              previous: tuple[Keypoints2D, Keypoints2D] | None = None) -> tuple[list[Crop], list[str]]:
        """One Crop per view and where each came from ("tracked" or "roi")."""
        crops, sources = [], []
        for view, image in enumerate((frame.left, frame.right)):
            tracked = tracked_crop(previous[view] if previous else None, self.policy, (image.shape[1], image.shape[0]))
            if tracked is not None:
                crops.append(tracked)
                sources.append("tracked")
            else:
                crops.append(self._roi((image.shape[1], image.shape[0]), view))
                sources.append("roi")
        return crops, sources

    def batch(self, frame: StereoFrame, crops: Sequence[Crop], reuse: bool = False) -> np.ndarray:
        """float32 (2, 3, 384, 288) [left, right], or (4, ...) with the mirrored views appended.

        reuse: write into this preprocessor's own batch and crop buffers, allocated once, instead of
        new arrays (the pose stage's hot path: no allocation per frame); the result is then
        overwritten by the next ``batch(..., reuse=True)``."""
        n = 2
        shape = (2 * n if self.flip_test else n, 3, INPUT_HEIGHT, INPUT_WIDTH)
        if reuse:
            if self._out is None or self._out.shape != shape:
                self._out = np.empty(shape, np.float32)
                self._warped = [np.empty((INPUT_HEIGHT, INPUT_WIDTH, 3), np.uint8) for _ in range(n)]
            out, warped = self._out, self._warped
        else:
            out, warped = np.empty(shape, np.float32), [None] * n
        for view, (image, crop) in enumerate(zip((frame.left, frame.right), crops)):
            normalise_into(crop.warp(image, warped[view]), out[view])
        if self.flip_test:
            out[n:] = out[:n, :, :, ::-1]
        return out

    def merge(self, heatmaps: np.ndarray) -> np.ndarray:
        """Engine output -> (2, J, H, W): as is, or averaged with the flipped-back mirrors.

        Device heatmaps (not an ndarray, with a ``merge_flip`` method: GpuHeatmaps) merge
        themselves on the device with the same arithmetic (a CUDA kernel on their stream)."""
        if not self.flip_test:
            return heatmaps
        if not isinstance(heatmaps, np.ndarray) and callable(getattr(heatmaps, "merge_flip", None)):
            return heatmaps.merge_flip(self.policy.convention)
        n = heatmaps.shape[0] // 2
        return (heatmaps[:n] + flip_back(heatmaps[n:], self.policy.convention)) * np.float32(0.5)


class HeatmapPoseStage:
    """PoseStage of a network: preprocess -> engine.infer (one batch) -> merge -> decode_to_image.

    An engine with ``infer_views_on_device`` (TensorRT) is given the two views and crops and
    preprocesses on the GPU; one with only ``infer_on_device`` is given the host batch. Their
    GpuHeatmaps are merged and decoded on the device, in the calling thread (which must own the
    engine's CUDA context: the inference thread), before the next frame's inference rewrites them.

    Keeps the last frame's keypoints for the tracked crop; ``last_crops`` and
    ``last_crop_sources`` are the crops of the frame being (or last) estimated and where each
    came from ("tracked" or "roi"), for logging, viewers and tests."""

    def __init__(self, engine: HeatmapEngine, preprocessor: Preprocessor | None = None,
                 decoder: str = "dark") -> None:
        self.engine = engine
        self.pre = preprocessor or Preprocessor()
        self.decoder = decoder
        self.info: ModelInfo = engine.info
        self._previous: tuple[Keypoints2D, Keypoints2D] | None = None
        self.last_crops: list[Crop] = []
        self.last_crop_sources: list[str] = []

    def reset(self) -> None:
        """Forget the tracked keypoints (a new session)."""
        self._previous = None

    def close(self) -> None:
        """Free the engine (a TensorRT engine: its buffers and CUDA context), in the thread that opened it."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def warm_up(self, batches: int = 2) -> None:
        """Run the engine on a few blank batches of the session's shape, so that the first frame of
        a session does not pay for lazy allocations (the runtime calls it in the inference thread)."""
        n = 4 if self.pre.flip_test else 2
        blank = np.zeros((n, 3, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
        on_device = self._infer_on_device()
        if on_device is None:
            for _ in range(batches):
                self.engine.infer(blank)
            return
        # The device path whole: the preprocessing, merge and decode kernels' first launches, their
        # buffers (the preprocessor's staging is sized again at the first frame of the camera's size).
        crop = roi_crop((INPUT_WIDTH, INPUT_HEIGHT), None, self.pre.policy.convention)
        views = self._views_on_device()
        for _ in range(batches):
            if views is not None:
                image = np.zeros((INPUT_HEIGHT, INPUT_WIDTH, 3), np.uint8)
                heatmaps = views(image, image, [crop, crop], self.pre.flip_test)
            else:
                heatmaps = on_device(blank)
            decode_to_image(self.pre.merge(heatmaps), [crop, crop], method=self.decoder)

    def _infer_on_device(self):
        infer_on_device = getattr(self.engine, "infer_on_device", None)
        return infer_on_device if callable(infer_on_device) else None

    def _views_on_device(self):
        """The engine's GPU preprocessing path (TensorRT: infer_views_on_device), or None."""
        views = getattr(self.engine, "infer_views_on_device", None)
        return views if callable(views) else None

    def estimate(self, frame: StereoFrame) -> tuple[Keypoints2D, Keypoints2D]:
        crops, sources = self.pre.crops(frame, self._previous)
        self.last_crops, self.last_crop_sources = crops, sources
        views = self._views_on_device()
        if views is not None:
            # GPU throughout: preprocessing kernel -> engine -> merge kernel (flip test) -> decode kernels.
            heatmaps = self.pre.merge(views(frame.left, frame.right, crops, self.pre.flip_test))
        else:
            batch = self.pre.batch(frame, crops, reuse=True)  # the engine reads it before the next frame
            on_device = self._infer_on_device()
            # Device heatmaps: GpuHeatmaps -> merge kernel -> decode kernels; host: arrays throughout.
            heatmaps = self.pre.merge(on_device(batch) if on_device is not None else self.engine.infer(batch))
        uv, scores = decode_to_image(heatmaps, crops, method=self.decoder)
        left = Keypoints2D(uv_px=uv[0], score=np.asarray(scores[0], np.float32))
        right = Keypoints2D(uv_px=uv[1], score=np.asarray(scores[1], np.float32))
        self._previous = (left, right)
        return left, right
