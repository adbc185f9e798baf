"""The frozen dataclasses that cross stages of the data path.

capture --StereoFrame--> pose --StereoKeypoints--> stereo --Pose3D--> store

Arrays carry their shape and unit in the field name or docstring. Missing values are NaN
(with a score or a reason beside them), never a sentinel.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .joints import NUM_JOINTS


@dataclass(frozen=True)
class RectifiedCalibration:
    """Intrinsics shared by both rectified views and the stereo baseline.

    Rectified views share fx, fy, cx, cy (DESIGN.md); the right camera sits ``baseline_mm``
    along +X of the left one, so a point's disparity u_left - u_right = baseline_mm * fx / Z.
    ``project`` and ``triangulate`` are that geometry (the synthetic scene projects its ground
    truth with it, the stereo stage triangulates with it).
    """

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    baseline_mm: float
    serial: str = "synthetic"
    resolution: str = "HD720"
    source: str = "synthetic"
    file_sha256: str | None = None

    # The rectified geometry, beside the numbers it uses. Shapes: ``(..., 3)`` points in mm in the
    # left rectified camera frame (X right, Y down, Z along the optical axis) <-> ``(..., 2)`` image
    # points in px in each view, plus ``(...)`` epipolar error. Each is the other's inverse.

    def triangulate(self, left_uv_px, right_uv_px) -> tuple[np.ndarray, np.ndarray]:
        """(..., 2) px, (..., 2) px -> xyz_mm (..., 3) float64, epipolar_px (...) float64.

        Z = baseline_mm * fx / (u_left - u_right); X = (u_left - cx) Z / fx; Y = (v_left - cy) Z / fy.
        NaN where the disparity is not positive or an input is not finite. epipolar_px = |v_left - v_right|.

        A missing input (NaN: a joint not detected) or a non-finite one is a normal case: it gives NaN
        quietly, without a NumPy warning.
        """
        left = np.asarray(left_uv_px, dtype=np.float64)
        right = np.asarray(right_uv_px, dtype=np.float64)
        if left.shape != right.shape or left.shape[-1:] != (2,):
            raise ValueError(f"left_uv_px and right_uv_px must share a shape (..., 2), "
                             f"got {left.shape} and {right.shape}")
        finite = np.isfinite(left).all(-1) & np.isfinite(right).all(-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            disparity = left[..., 0] - right[..., 0]
            z = np.where(finite & (disparity > 0), self.baseline_mm * self.fx / disparity, np.nan)
            x = (left[..., 0] - self.cx) * z / self.fx
            y = (left[..., 1] - self.cy) * z / self.fy
            epipolar = np.abs(left[..., 1] - right[..., 1])
        return np.stack([x, y, z], axis=-1), epipolar

    def project(self, xyz_mm) -> tuple[np.ndarray, np.ndarray]:
        """xyz_mm (..., 3) -> (left_uv_px (..., 2), right_uv_px (..., 2)): the inverse of triangulate.

        Points with Z <= 0 (behind the camera) project to NaN.
        """
        p = np.asarray(xyz_mm, dtype=np.float64)
        if p.shape[-1:] != (3,):
            raise ValueError(f"xyz_mm must have shape (..., 3), got {p.shape}")
        x, y, z = p[..., 0], p[..., 1], p[..., 2]
        z = np.where(z > 0, z, np.nan)
        v = self.fy * y / z + self.cy
        left = np.stack([self.fx * x / z + self.cx, v], axis=-1)
        right = np.stack([self.fx * (x - self.baseline_mm) / z + self.cx, v], axis=-1)
        return left, right


@dataclass(frozen=True)
class GroundTruth:
    """What a simulated (or replayed, annotated) frame really shows.

    xyz_mm: (17, 3) float64, left rectified camera frame, mm.
    left_uv_px, right_uv_px: (17, 2) float64, rectified image pixels (u = column, v = row).
    """

    xyz_mm: np.ndarray
    left_uv_px: np.ndarray
    right_uv_px: np.ndarray


@dataclass(frozen=True)
class StereoFrame:
    """One rectified stereo pair.

    index: frame index within the session, from 0. t_ns: capture time, ns since the Unix epoch.
    left, right: (H, W, 3) uint8 BGR rectified images.
    """

    index: int
    t_ns: int
    left: np.ndarray
    right: np.ndarray
    calibration: RectifiedCalibration
    truth: GroundTruth | None = None
    #: time.monotonic_ns() when the frame entered this process; latency is measured from it.
    received_mono_ns: int = 0


@dataclass(frozen=True)
class Keypoints2D:
    """One view's joints: uv_px (17, 2) float32 image pixels (NaN when not decoded), score (17,) float32."""

    uv_px: np.ndarray
    score: np.ndarray

    def __post_init__(self) -> None:
        if self.uv_px.shape != (NUM_JOINTS, 2) or self.score.shape != (NUM_JOINTS,):
            raise ValueError(
                f"Keypoints2D wants uv_px (17, 2) and score (17,), got {self.uv_px.shape} and {self.score.shape}"
            )


@dataclass(frozen=True)
class StereoKeypoints:
    """The pose stage's output for one frame: both views' keypoints, with the frame it came from."""

    frame: StereoFrame
    left: Keypoints2D
    right: Keypoints2D
    pose_done_ns: int = 0


@dataclass(frozen=True)
class Pose3D:
    """The stereo stage's output for one frame.

    xyz_mm: (17, 3) float64 in the left rectified camera frame, NaN where invalid.
    confidence: (17,) float32, min of the two views' scores.
    epipolar_px: (17,) float32, |v_left - v_right| (NaN when a view has no joint).
    invalid_reason: 17 entries, None for a valid joint, else a reason from stereo.validity.
    latency_ms: capture to triangulated, ms.
    """

    frame_index: int
    t_ns: int
    xyz_mm: np.ndarray
    confidence: np.ndarray
    epipolar_px: np.ndarray
    invalid_reason: tuple[str | None, ...]
    left: Keypoints2D
    right: Keypoints2D
    latency_ms: float
    truth: GroundTruth | None = field(default=None, repr=False)

    @property
    def valid_joints(self) -> int:
        return sum(r is None for r in self.invalid_reason)
