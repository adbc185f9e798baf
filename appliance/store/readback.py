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


#: Rows converted per step: the Python tuples of one step are all that exists beside the arrays.
CHUNK_ROWS = 17 * 2048


def _per_joint(conn: sqlite3.Connection, table: str, columns: str, n: int, session_id: int) -> np.ndarray:
    """float64 (F, 17, n) of ``columns`` (NULL -> NaN) from ``table``'s rows of a session, ordered by
    frame and joint. Filled chunk by chunk into an array sized by a count first: an hour's session
    (1.8 M joint rows) as Python tuples all at once would be ~20 times the array's size."""
    (count,) = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (session_id,)).fetchone()
    out = np.empty((count, n), dtype=np.float64)
    cur = conn.execute(f"SELECT {columns} FROM {table} WHERE session_id = ? ORDER BY frame_index, joint",
                       (session_id,))
    at = 0
    while True:
        rows = cur.fetchmany(CHUNK_ROWS)
        if not rows:
            break
        if at + len(rows) > count:
            raise ValueError(f"session {session_id}: {table} grew while it was read")
        out[at:at + len(rows)] = np.array(rows, dtype=np.float64)
        at += len(rows)
    if at != count or count % NUM_JOINTS:
        raise ValueError(f"session {session_id}: {at} of {count} {table} rows, not whole frames of {NUM_JOINTS}")
    return out.reshape(-1, NUM_JOINTS, n)


def load_session_arrays(conn: sqlite3.Connection, session_id: int) -> SessionArrays:
    a = _per_joint(conn, "joints", "frame_index, x_mm, y_mm, z_mm, left_u, left_v, right_u, right_v, "
                   "invalid_reason IS NULL", 9, session_id)
    frame_index = a[:, 0, 0].astype(np.int64)
    t = _per_joint(conn, "ground_truth", "frame_index, x_mm, y_mm, z_mm, left_u, left_v, right_u, right_v", 8,
                   session_id)
    if t.shape[0] == 0:
        t = None
    elif not np.array_equal(t[:, 0, 0].astype(np.int64), frame_index):
        raise ValueError(f"session {session_id}: ground_truth frames differ from stored frames")
    return SessionArrays(
        frame_index=frame_index, xyz_mm=a[:, :, 1:4], left_uv_px=a[:, :, 4:6], right_uv_px=a[:, :, 6:8],
        valid=a[:, :, 8].astype(bool),
        truth_xyz_mm=None if t is None else t[:, :, 1:4],
        truth_left_uv_px=None if t is None else t[:, :, 4:6],
        truth_right_uv_px=None if t is None else t[:, :, 6:8],
    )
