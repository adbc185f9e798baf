"""Rectified-stereo geometry: triangulate and its inverse, project.

Shape contract: ``(..., 2)`` image points in each view -> ``(..., 3)`` points in mm in the left
rectified camera frame (X right, Y down, Z along the optical axis), and ``(...)`` epipolar error.
Rectified views share fx, fy, cx, cy; the right camera is ``baseline_mm`` along +X.
"""
from __future__ import annotations

import numpy as np


def triangulate_rectified(left_uv, right_uv, fx: float, cx: float, cy: float, baseline_mm: float,
                          fy: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(..., 2) px, (..., 2) px -> xyz_mm (..., 3) float64, epipolar_px (...) float64.

    Z = baseline_mm * fx / (u_left - u_right); X = (u_left - cx) Z / fx; Y = (v_left - cy) Z / fy
    (fy defaults to fx). NaN where the disparity is not positive or an input is not finite.
    epipolar_px = |v_left - v_right|.

    A missing input (NaN: a joint not detected) or a non-finite one is a normal case: it gives NaN
    quietly, without a NumPy warning.
    """
    left = np.asarray(left_uv, dtype=np.float64)
    right = np.asarray(right_uv, dtype=np.float64)
    if left.shape != right.shape or left.shape[-1:] != (2,):
        raise ValueError(f"left_uv and right_uv must share a shape (..., 2), got {left.shape} and {right.shape}")
    fy = fx if fy is None else fy
    finite = np.isfinite(left).all(-1) & np.isfinite(right).all(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        disparity = left[..., 0] - right[..., 0]
        z = np.where(finite & (disparity > 0), baseline_mm * fx / disparity, np.nan)
        x = (left[..., 0] - cx) * z / fx
        y = (left[..., 1] - cy) * z / fy
        epipolar = np.abs(left[..., 1] - right[..., 1])
    return np.stack([x, y, z], axis=-1), epipolar


def project_rectified(xyz_mm, fx: float, cx: float, cy: float, baseline_mm: float,
                      fy: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """xyz_mm (..., 3) -> (left_uv (..., 2), right_uv (..., 2)) px: the inverse of triangulate_rectified.

    Points with Z <= 0 (behind the camera) project to NaN.
    """
    p = np.asarray(xyz_mm, dtype=np.float64)
    if p.shape[-1:] != (3,):
        raise ValueError(f"xyz_mm must have shape (..., 3), got {p.shape}")
    fy = fx if fy is None else fy
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    z = np.where(z > 0, z, np.nan)
    v = fy * y / z + cy
    left = np.stack([fx * x / z + cx, v], axis=-1)
    right = np.stack([fx * (x - baseline_mm) / z + cx, v], axis=-1)
    return left, right
