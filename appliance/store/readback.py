"""Read a stored session back into arrays (for accuracy, exports and tests).

Everything comes from committed rows, so what is reported is what is stored.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

import numpy as np

from ..joints import NUM_JOINTS


@dataclass(frozen=True)
class SessionArrays:
    """frame_index (F,), xyz_mm (F,17,3) NaN where invalid, left_uv/right_uv (F,17,2) NaN where not
    detected, truth_* the same for ground truth (None without ground truth)."""

    frame_index: np.ndarray
    xyz_mm: np.ndarray
    left_uv_px: np.ndarray
    right_uv_px: np.ndarray
    valid: np.ndarray
    truth_xyz_mm: np.ndarray | None
    truth_left_uv_px: np.ndarray | None
    truth_right_uv_px: np.ndarray | None


def _per_joint(rows, n: int) -> np.ndarray:
    return np.array(rows, dtype=np.float64).reshape(-1, NUM_JOINTS, n) if rows else np.zeros((0, NUM_JOINTS, n))


def load_session_arrays(conn: sqlite3.Connection, session_id: int) -> SessionArrays:
    rows = conn.execute(
        "SELECT frame_index, x_mm, y_mm, z_mm, left_u, left_v, right_u, right_v, invalid_reason IS NULL "
        "FROM joints WHERE session_id = ? ORDER BY frame_index, joint", (session_id,)).fetchall()
    a = _per_joint(rows, 9)
    frame_index = a[:, 0, 0].astype(np.int64)
    truth = conn.execute(
        "SELECT frame_index, x_mm, y_mm, z_mm, left_u, left_v, right_u, right_v FROM ground_truth "
        "WHERE session_id = ? ORDER BY frame_index, joint", (session_id,)).fetchall()
    t = None
    if truth:
        t = _per_joint(truth, 8)
        if not np.array_equal(t[:, 0, 0].astype(np.int64), frame_index):
            raise ValueError(f"session {session_id}: ground_truth frames differ from stored frames")
    return SessionArrays(
        frame_index=frame_index, xyz_mm=a[:, :, 1:4], left_uv_px=a[:, :, 4:6], right_uv_px=a[:, :, 6:8],
        valid=a[:, :, 8].astype(bool),
        truth_xyz_mm=None if t is None else t[:, :, 1:4],
        truth_left_uv_px=None if t is None else t[:, :, 4:6],
        truth_right_uv_px=None if t is None else t[:, :, 6:8],
    )
