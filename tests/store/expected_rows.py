"""What a stored synthetic frame must be, recomputed outside the recording process.

The synthetic source and the simulated model are deterministic per (seed, frame_index): the
rows below are rebuilt here, by the same stages built from the same configuration as
`agma record --seed S --sim-noise-px X` with sim.render off, and compared with what a (killed,
full-disk...) recorder left in the file. Only capture time and latency depend on the run: t_ns is checked
against the session's first frame (frames are 1/fps apart), latency_ms is not compared.
"""
from __future__ import annotations

import sqlite3
from functools import lru_cache

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.pose.stage import build as build_pose
from appliance.stereo.stage import to_pose3d
from appliance.stereo.validity import ValidityRules
from appliance.store.writer import frame_rows

FPS = 30.0


@lru_cache(maxsize=64)
def _scene(seed: int, noise_px: float):
    """Source, pose stage and validity rules as the recorder builds them (built-in defaults otherwise)."""
    cfg = config.load(None, {"sim.seed": (seed, "test"), "sim.noise_px": (noise_px, "test"),
                             "sim.render": (False, "test")}, environ={})
    src = SyntheticSource(seed=seed, fps=cfg["capture.fps"], paced=False, render=False)
    assert cfg["capture.fps"] == FPS
    return src, build_pose(cfg, src), ValidityRules.from_config(cfg)


def expected(seed: int, noise_px: float, frame_index: int, session_id: int):
    """(valid_joints, joint_samples rows, ground_truth rows) as the writer would insert them."""
    src, model, rules = _scene(seed, noise_px)
    frame = src.frame_at(frame_index, t_ns=0)
    pose = to_pose3d(frame, *model.estimate(frame), rules)
    f, joints, truth = frame_rows(session_id, pose)
    return f[3], joints, truth


def _grouped(conn, sql: str, session_id: int) -> dict[int, list[tuple]]:
    out: dict[int, list[tuple]] = {}
    for row in conn.execute(sql, (session_id,)):
        out.setdefault(row[1], []).append(row)
    return out


def check_session_frames(conn: sqlite3.Connection, session_id: int, seed: int, noise_px: float) -> list[int]:
    """Assert every stored frame of the session equals its expectation; the stored frame indexes.

    Each frame is checked in full: its frames row (valid_joints, t_ns spacing 1/fps from the
    first frame), its 17 joint_samples rows (the stored whole numbers behind the view joints) and
    17 ground_truth rows, exactly (REAL round-trips a double).
    """
    stored = conn.execute("SELECT frame_index, t_ns, valid_joints FROM frames WHERE session_id = ? ORDER BY frame_index",
                          (session_id,)).fetchall()
    if not stored:
        return []
    joints = _grouped(conn, "SELECT * FROM joint_samples WHERE session_id = ? ORDER BY frame_index, joint", session_id)
    truth = _grouped(conn, "SELECT * FROM ground_truth WHERE session_id = ? ORDER BY frame_index, joint", session_id)
    t0 = stored[0][1] - round(stored[0][0] * 1e9 / FPS)
    for idx, t_ns, valid_stored in stored:
        valid, want_j, want_t = expected(seed, noise_px, idx, session_id)
        where = f"session {session_id} (seed {seed}) frame {idx}"
        assert valid_stored == valid, where
        assert t_ns == t0 + round(idx * 1e9 / FPS), where
        assert joints.get(idx) == want_j, where
        assert truth.get(idx) == want_t, where
    assert len(joints) == len(truth) == len(stored), f"session {session_id}: rows without a frames row"
    return [r[0] for r in stored]
