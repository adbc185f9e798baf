"""The paper's accuracy metrics (Soualmi et al., section "Metrics"), on arrays.

All functions take arrays over frames and joints. Denominators are all ground-truth joints: an
invalid (NaN) estimate counts as a miss for PCK. Mean and STD are over valid joints only, with
the valid ratio beside them.
"""
from __future__ import annotations

import numpy as np

from ..joints import JOINT_GROUPS, JOINT_INDEX

PCK3D_THRESHOLDS_MM = (10.0, 25.0, 50.0, 100.0)
PCK2D_FRACTIONS = (0.05, 0.1, 0.2)


def errors_3d_mm(est_xyz_mm, true_xyz_mm) -> np.ndarray:
    """(F, J, 3), (F, J, 3) -> (F, J) Euclidean error in mm, NaN where the estimate is invalid."""
    return np.linalg.norm(np.asarray(est_xyz_mm, np.float64) - np.asarray(true_xyz_mm, np.float64), axis=-1)


def pck(errors, threshold) -> float:
    """Percent (0-100) of all entries with error <= threshold; NaN errors count as misses."""
    e = np.asarray(errors, np.float64)
    if e.size == 0:
        return float("nan")
    with np.errstate(invalid="ignore"):
        return float(100.0 * np.count_nonzero(e <= threshold) / e.size)


def mean_std(errors) -> tuple[float, float, float]:
    """(mean, population STD, valid ratio) over the finite entries."""
    e = np.asarray(errors, np.float64)
    valid = np.isfinite(e)
    n = int(valid.sum())
    if n == 0:
        return float("nan"), float("nan"), 0.0
    return float(e[valid].mean()), float(e[valid].std()), n / e.size


def torso_height_px(true_uv_px) -> np.ndarray:
    """(F, J, 2) -> (F,): right hip to right shoulder distance, the paper's PCK normaliser (eq. 5)."""
    uv = np.asarray(true_uv_px, np.float64)
    return np.linalg.norm(uv[:, JOINT_INDEX["right_hip"]] - uv[:, JOINT_INDEX["right_shoulder"]], axis=-1)


def pck_2d(est_uv_px, true_uv_px, fraction: float) -> float:
    """Percent of joints within fraction x torso height of the ground truth (per frame), misses for NaN."""
    est, true = np.asarray(est_uv_px, np.float64), np.asarray(true_uv_px, np.float64)
    err = np.linalg.norm(est - true, axis=-1)
    torso = torso_height_px(true)[:, None]
    return pck(err / torso, fraction)


def accuracy_3d(est_xyz_mm, true_xyz_mm) -> dict[str, float]:
    """The Table-4 figures: mean_mm, std_mm, valid_ratio, pck_10mm .. pck_100mm (percent)."""
    err = errors_3d_mm(est_xyz_mm, true_xyz_mm)
    mean, std, ratio = mean_std(err)
    out = {"mean_mm": mean, "std_mm": std, "valid_ratio": ratio}
    for t in PCK3D_THRESHOLDS_MM:
        out[f"pck_{t:g}mm"] = pck(err, t)
    return out


def accuracy_per_group(est_xyz_mm, true_xyz_mm) -> dict[str, dict[str, float]]:
    """The Table-5 figures per joint group (nose, shoulders, elbows, wrists, hips, knees, ankles)."""
    est, true = np.asarray(est_xyz_mm), np.asarray(true_xyz_mm)
    return {g: accuracy_3d(est[:, list(idx)], true[:, list(idx)]) for g, idx in JOINT_GROUPS.items()}
