"""The comparison core of ``agma engine verify``: two models' heatmaps of the same inputs -> figures.

A converted model (a TensorRT FP16 engine, a re-exported ONNX file) is accepted when it gives the
*numbers* of its reference, not the same bytes: both are run on the same preprocessed views, and

- ``heatmap_max_abs``: the largest |candidate - reference| over every heatmap value;
- ``heatmap_max_rel``: that divided by the reference's value range (max - min over all maps);
- ``kp_px_*``: the distance in image pixels between the joints the real decoder
  (:func:`appliance.pose.decode.decode_to_image`) finds in each model's maps, p50 / p95 / max over
  all joints of all views, and ``kp_px_*_confident`` over the joints whose *reference* score is
  >= ``min_score`` (0.3, the stereo stage's default).

A joint both models leave undecoded (NaN: no positive maximum; an untrained network leaves many)
has no distance and is left out of the figures (``joints`` counts those taken); one that only one
of them decodes disagrees without bound (distance +inf, None in JSON). ``ok`` holds when kp p95 <=
``max_kp_p95_px`` (0.5 px), heatmap_max_rel <= ``max_heatmap_rel`` (1 %) and no confident joint
is decoded by one model only. Pure: arrays in,
figures out; the command (appliance.commands.engine) runs the models.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from appliance.errors import AgmaError
from appliance.joints import NUM_JOINTS
from appliance.pose.crop import Crop
from appliance.pose.decode import decode_to_image
from appliance.pose.engine import HEATMAP_HEIGHT, HEATMAP_WIDTH

MIN_SCORE = 0.3
MAX_KP_P95_PX = 0.5
MAX_HEATMAP_REL = 0.01
HEATMAPS_JHW = (NUM_JOINTS, HEATMAP_HEIGHT, HEATMAP_WIDTH)


@dataclass(frozen=True)
class VerifyFigures:
    """What verify reports; NaN where a figure has no joints to be taken over (no confident joint)."""

    heatmap_max_abs: float
    heatmap_max_rel: float
    kp_px_p50: float
    kp_px_p95: float
    kp_px_max: float
    kp_px_p50_confident: float
    kp_px_p95_confident: float
    kp_px_max_confident: float
    ok: bool
    views: int
    joints: int
    joints_confident: int
    reference_range: float
    #: Why ``ok`` is False, one phrase per failed threshold (empty when ok).
    failures: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """JSON-ready: NaN and inf become None (JSON has neither)."""
        doc = asdict(self)
        doc["failures"] = list(self.failures)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in doc.items()}


def _check_shape(name: str, heatmaps: np.ndarray) -> None:
    if heatmaps.ndim != 4 or tuple(heatmaps.shape[1:]) != HEATMAPS_JHW:
        raise AgmaError(f"{name} gives heatmaps of shape {tuple(heatmaps.shape)}, expected "
                        f"(N, {', '.join(map(str, HEATMAPS_JHW))}): not comparable")


def keypoint_distances_px(uv_ref: np.ndarray, uv_cand: np.ndarray) -> np.ndarray:
    """(..., 2) image px, NaN where undecoded -> (...) distances: NaN where both are NaN, inf where one is."""
    ref_ok = np.isfinite(uv_ref).all(axis=-1)
    cand_ok = np.isfinite(uv_cand).all(axis=-1)
    d = np.full(ref_ok.shape, np.inf)
    both = ref_ok & cand_ok
    d[both] = np.linalg.norm(uv_ref[both].astype(np.float64) - uv_cand[both].astype(np.float64), axis=-1)
    d[~ref_ok & ~cand_ok] = np.nan
    return d


def _percentiles(d: np.ndarray) -> tuple[float, float, float]:
    if d.size == 0:
        return math.nan, math.nan, math.nan
    # "higher": a percentile is a distance some joint really has (an inf stays inf, never interpolated)
    p50, p95 = np.percentile(d, [50, 95], method="higher")
    return float(p50), float(p95), float(d.max())


def compare_heatmaps(
    reference: np.ndarray,
    candidate: np.ndarray,
    crops: Sequence[Crop],
    *,
    decoder: str = "dark",
    min_score: float = MIN_SCORE,
    max_kp_p95_px: float = MAX_KP_P95_PX,
    max_heatmap_rel: float = MAX_HEATMAP_REL,
) -> VerifyFigures:
    """Reference and candidate heatmaps (N, 17, 96, 72) of the same N views, with each view's crop
    (heatmap -> image px), -> the figures. AgmaError (one line) when a shape is not the contract's
    or the two differ."""
    reference = np.asarray(reference)
    candidate = np.asarray(candidate)
    _check_shape("the reference", reference)
    _check_shape("the candidate", candidate)
    if reference.shape != candidate.shape:
        raise AgmaError(f"the reference gives {reference.shape[0]} views' heatmaps, the candidate "
                        f"{candidate.shape[0]}: not comparable")
    if len(crops) != reference.shape[0]:
        raise ValueError(f"{len(crops)} crops for {reference.shape[0]} views")
    ref64 = reference.astype(np.float64)
    diff = np.abs(candidate.astype(np.float64) - ref64)
    max_abs = float(diff.max()) if np.isfinite(diff).all() else math.inf
    value_range = float(ref64.max() - ref64.min())
    max_rel = max_abs / value_range if value_range > 0 else (0.0 if max_abs == 0 else math.inf)

    uv_ref, score_ref = decode_to_image(reference.astype(np.float32), list(crops), method=decoder)
    uv_cand, _ = decode_to_image(candidate.astype(np.float32), list(crops), method=decoder)
    d = keypoint_distances_px(uv_ref, uv_cand)
    decoded = ~np.isnan(d)
    confident = (np.asarray(score_ref) >= min_score) & decoded
    p50, p95, pmax = _percentiles(d[decoded])
    c50, c95, cmax = _percentiles(d[confident])
    failures = []
    if d.size and not decoded.any():
        failures.append("no joint decoded in either model's heatmaps: nothing to compare")
    elif not p95 <= max_kp_p95_px:
        failures.append(f"keypoint p95 {p95:.4g} px > {max_kp_p95_px} px")
    lost = int(np.isinf(d[confident]).sum())
    if lost:
        failures.append(f"{lost} joint(s) with reference score >= {min_score} not decoded by one of the models")
    if not max_rel <= max_heatmap_rel:
        failures.append(f"heatmap difference {100 * max_rel:.4g} % of the reference's range > "
                        f"{100 * max_heatmap_rel:g} %")
    return VerifyFigures(
        heatmap_max_abs=max_abs, heatmap_max_rel=max_rel,
        kp_px_p50=p50, kp_px_p95=p95, kp_px_max=pmax,
        kp_px_p50_confident=c50, kp_px_p95_confident=c95, kp_px_max_confident=cmax,
        ok=not failures, views=int(reference.shape[0]), joints=int(decoded.sum()),
        joints_confident=int(confident.sum()), reference_range=value_range, failures=tuple(failures))


def random_views(count: int, seed: int, image_hw: tuple[int, int] = (720, 640)) -> list[np.ndarray]:
    """``count`` seeded BGR uint8 images (H, W, 3): smooth random shapes plus pixel noise, so that a
    network sees structure at every scale (not only white noise)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = image_hw
    out = []
    for _ in range(count):
        coarse = rng.uniform(0, 255, size=(max(h // 48, 2), max(w // 48, 2), 3)).astype(np.float32)
        smooth = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
        noisy = smooth + rng.normal(0.0, 12.0, size=(h, w, 3))
        out.append(np.clip(noisy, 0, 255).astype(np.uint8))
    return out
