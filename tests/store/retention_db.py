"""Sessions of any age for the retention tests: real rows through the real writer, at given times.

``add_session`` opens a session row with the store's own ``open_session`` at ``started_at_ns``,
offers ``frames`` poses to the writer (random but valid joints, some invalid), and closes it at
``ended_at_ns`` (None: left open, as a recording in progress). A box that recorded 40 days ago
leaves exactly these rows; only the clock differs.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from appliance.capture.synthetic import SIMULATED_ZED2_HD720
from appliance.frames import Keypoints2D, Pose3D
from appliance.joints import NUM_JOINTS
from appliance.store import sessions as store_sessions
from appliance.store.writer import StoreWriter

DAY_NS = 86_400 * 10**9
BOX = "retbox"


def pose(i: int, t_ns: int, rng: np.random.Generator) -> Pose3D:
    xyz = rng.uniform([-300, -300, 500], [300, 300, 1500], size=(NUM_JOINTS, 3))
    reasons = tuple("low_score" if j == i % NUM_JOINTS else None for j in range(NUM_JOINTS))
    xyz[i % NUM_JOINTS] = np.nan
    uv = rng.uniform(0, 1000, size=(NUM_JOINTS, 2)).astype(np.float32)
    score = rng.uniform(0.2, 1.0, size=NUM_JOINTS).astype(np.float32)
    kp = Keypoints2D(uv, score)
    return Pose3D(frame_index=i, t_ns=t_ns, xyz_mm=xyz, confidence=score, epipolar_px=np.zeros(NUM_JOINTS, np.float32),
                  invalid_reason=reasons, left=kp, right=Keypoints2D(uv + 1.0, score), latency_ms=12.5)


def add_session(w: StoreWriter, started_at_ns: int, ended_at_ns: int | None, frames: int, seed: int = 0,
                continues: int | None = None) -> tuple[int, str]:
    """One session of ``frames`` frames from started_at_ns (30 frames/s), closed at ended_at_ns -> (id, uid)."""
    row = w.call(lambda c: store_sessions.open_session(
        c, box_id=BOX, bed_label="bed 1", source="synthetic", model="simulated", model_sha256=None, decoder=None,
        fps_nominal=30.0, calibration=SIMULATED_ZED2_HD720, software_version="test", started_at_ns=started_at_ns,
        continues_session=continues))
    rng = np.random.default_rng(seed)
    for i in range(frames):
        assert w.offer(row.id, pose(i, started_at_ns + i * 33_333_333, rng), wait=True)
    w.flush()
    if ended_at_ns is not None:
        w.call(lambda c: store_sessions.close_session(c, row.id, "stopped", 0, ended_at_ns=ended_at_ns))
    return row.id, row.uid


def counts(db: Path, session_id: int) -> dict[str, int]:
    """Rows carrying session_id in each table (events: the session's own)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t} WHERE {'id' if t == 'sessions' else 'session_id'} = ?",
                                (session_id,)).fetchone()[0]
                for t in ("sessions", "frames", "joint_samples", "ground_truth", "events", "session_dumps")}
    finally:
        conn.close()
