"""Why a joint is not a 3D measurement: the rules that turn a triangulation into NaN plus a reason.

Reasons, in the order they are checked (the first that applies is stored):
- ``not_detected``: a view has no finite 2D position (NaN), e.g. the heatmap had no positive maximum;
- ``low_score``: a view's score is below ``min_score``;
- ``disparity_not_positive``: u_left - u_right <= 0 (the point would be at or beyond infinity);
- ``depth_out_of_range``: Z outside [min_depth_mm, max_depth_mm];
- ``epipolar_error``: |v_left - v_right| above ``max_epipolar_px`` (the two views disagree).
"""
from __future__ import annotations

import numpy as np

from .reasons import REASONS, ValidityRules

__all__ = ["REASONS", "ValidityRules", "apply_validity", "invalid_reasons"]


def invalid_reasons(left_uv, right_uv, left_score, right_score, xyz_mm, epipolar_px,
                    rules: ValidityRules) -> np.ndarray:
    """Arrays over joints (J, ...) -> (J,) object array: None for a valid joint, else its reason.

    NaN is a normal input (a joint not detected): every comparison treats it as failing, quietly.
    """
    left_uv, right_uv = np.asarray(left_uv, np.float64), np.asarray(right_uv, np.float64)
    left_score, right_score = np.asarray(left_score, np.float64), np.asarray(right_score, np.float64)
    xyz_mm, epipolar_px = np.asarray(xyz_mm, np.float64), np.asarray(epipolar_px, np.float64)
    z = xyz_mm[..., 2]
    with np.errstate(invalid="ignore"):  # inf - inf: not detected anyway, and NaN fails the comparison
        disparity = left_uv[..., 0] - right_uv[..., 0]
    failed = {  # by reason; checked in REASONS' order
        "not_detected": ~np.isfinite(left_uv).all(-1) | ~np.isfinite(right_uv).all(-1),
        "low_score": ~(np.minimum(left_score, right_score) >= rules.min_score),
        "disparity_not_positive": ~(disparity > 0),
        "depth_out_of_range": ~((z >= rules.min_depth_mm) & (z <= rules.max_depth_mm)),
        "epipolar_error": ~(epipolar_px <= rules.max_epipolar_px),
    }
    reasons = np.full(z.shape, None, dtype=object)
    for name in REASONS:
        reasons[(reasons == None) & failed[name]] = name  # noqa: E711 (elementwise on an object array)
    return reasons


def apply_validity(xyz_mm, reasons) -> np.ndarray:
    """NaN the coordinates of invalid joints: (J, 3), (J,) -> (J, 3) copy."""
    out = np.array(xyz_mm, dtype=np.float64, copy=True)
    out[np.asarray([r is not None for r in reasons])] = np.nan
    return out
