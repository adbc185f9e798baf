"""Reading a capture-process session back: its frames, its camera events, and the camera clock's origin.

The synthetic source in a capture process runs on one clock for the life of the daemon: frame ``i``
of the source is captured at ``origin + i / fps`` and shows the simulated infant at ``i / fps`` s
(capture/synthetic.py). With ``sim.noise_px = 0`` and ``sim.miss_rate = 0`` the simulated model's
stored 2D joints are that ground truth up to the heatmap decoding's sub-pixel error, so the source's
frame counter of any stored frame can be recovered from the database alone: :func:`source_origin`
finds the counter of the session's first frame by matching its stored joints against the truth,
which gives the origin; every later frame must then sit on that same clock.
"""
from __future__ import annotations

import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.capture.synthetic import SIMULATED_ZED2_HD720, InfantMotion

#: Environment of a daemon whose stored joints are the synthetic truth (see the module's doc).
EXACT_MODEL = {"AGMA_SIM__NOISE_PX": "0", "AGMA_SIM__MISS_RATE": "0"}
FPS = 30.0


@dataclass
class Stored:
    session_id: int
    index: list[int]     # frames.frame_index, ascending
    t_ns: list[int]      # frames.t_ns of each
    left_uv: np.ndarray  # (n, 17, 2) stored left-view joints, px (NaN where not detected)


def read_session(db: Path, session_id: int) -> Stored:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT frame_index, t_ns FROM frames WHERE session_id = ? ORDER BY frame_index",
                            (session_id,)).fetchall()
        uv = np.full((len(rows), 17, 2), np.nan)
        pos = {i: k for k, (i, _) in enumerate(rows)}
        for i, j, u, v in conn.execute("SELECT frame_index, joint, left_u_mpx, left_v_mpx FROM joint_samples "
                                       "WHERE session_id = ?", (session_id,)):
            if u is not None and v is not None:
                uv[pos[i], j] = (u / 1000.0, v / 1000.0)
    finally:
        conn.close()
    return Stored(session_id, [i for i, _ in rows], [t for _, t in rows], uv)


def camera_events(db: Path) -> list[tuple[str, int, str | None]]:
    """(kind, t_ns, detail) of every camera_* event, in order ([] while the database is not there yet)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return conn.execute("SELECT kind, t_ns, detail FROM events WHERE kind LIKE 'camera_%' ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def truth_uv(seed: int, source_index: int) -> np.ndarray:
    """(17, 2) true left-view joints of the synthetic source's frame ``source_index``, px."""
    xyz = InfantMotion(seed).joints_mm(source_index / FPS)
    return SIMULATED_ZED2_HD720.project(xyz)[0]


def uv_error_px(stored_uv: np.ndarray, seed: int, source_index: int) -> float:
    """Median distance (px) between one frame's stored joints and the truth of source frame ``source_index``."""
    d = np.linalg.norm(stored_uv - truth_uv(seed, source_index), axis=-1)
    return float(np.nanmedian(d))


def source_origin(s: Stored, seed: int, not_before_ns: int) -> tuple[int, int]:
    """(source counter of the session's first frame, the clock's origin in ns since the epoch).

    The origin lies between ``not_before_ns`` (a time taken before the daemon was started) and the
    first frame, so the counter is searched in that range: the one whose truth matches best."""
    top = math.ceil((s.t_ns[0] - not_before_ns) * FPS / 1e9) + 1
    motion = InfantMotion(seed)
    errors = []
    for i in range(max(top, 1)):
        uv = SIMULATED_ZED2_HD720.project(motion.joints_mm(i / FPS))[0]
        errors.append(float(np.nanmedian(np.linalg.norm(s.left_uv[0] - uv, axis=-1))))
    i0 = int(np.argmin(errors))
    return i0, s.t_ns[0] - round(i0 * 1e9 / FPS)


def slot_ns(origin_ns: int, source_index: int) -> int:
    """The capture time of source frame ``source_index`` on the origin's clock."""
    return origin_ns + round(source_index * 1e9 / FPS)


def first_slot(t_s: float) -> int:
    """The first source frame captured at or after t_s seconds since the origin."""
    return math.ceil(round(t_s * FPS, 6))
