"""The stereo stage's shell: StereoKeypoints -> Pose3D (triangulation + validity)."""
from __future__ import annotations

import time

import numpy as np

from ..frames import Keypoints2D, Pose3D, RectifiedCalibration, StereoFrame
from .validity import ValidityRules, apply_validity, invalid_reasons


def triangulate_joints(left: Keypoints2D, right: Keypoints2D, calib: RectifiedCalibration,
                       rules: ValidityRules) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    """-> xyz_mm (17, 3) NaN where invalid, confidence (17,), epipolar_px (17,), reasons (17 of str|None)."""
    xyz, epi = calib.triangulate(left.uv_px, right.uv_px)
    reasons = invalid_reasons(left.uv_px, right.uv_px, left.score, right.score, xyz, epi, rules)
    confidence = np.minimum(left.score, right.score).astype(np.float32)
    return apply_validity(xyz, reasons), confidence, epi.astype(np.float32), tuple(reasons.tolist())


def to_pose3d(frame: StereoFrame, left: Keypoints2D, right: Keypoints2D, rules: ValidityRules) -> Pose3D:
    xyz, conf, epi, reasons = triangulate_joints(left, right, frame.calibration, rules)
    latency_ms = (time.monotonic_ns() - frame.received_mono_ns) / 1e6 if frame.received_mono_ns else float("nan")
    return Pose3D(frame_index=frame.index, t_ns=frame.t_ns, xyz_mm=xyz, confidence=conf, epipolar_px=epi,
                  invalid_reason=reasons, left=left, right=right, latency_ms=latency_ms, truth=frame.truth)
