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
