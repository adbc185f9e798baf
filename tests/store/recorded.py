"""Real recordings for the research-data tests: the runtime (as `agma record` runs it), the synthetic source, the keypoint stand-in."""
from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from tests.sim_keypoints import SimulatedKeypointModel
from appliance.runtime import machine as m
from appliance.runtime.record import record_session
from tests.helpers import DEADLINE_S, wait_until


class SkippingSource(SyntheticSource):
    """The synthetic camera with frames that never arrive: gaps in frame_index, as dropped frames leave."""

    def __init__(self, skip: Iterable[int], **kw) -> None:
        super().__init__(**kw)
        self.skip = frozenset(skip)

    def frames(self) -> Iterator:
        return (f for f in super().frames() if f.index not in self.skip)


def record(db: Path, *, seed: int = 0, n_frames: int = 60, noise_px: float = 2.0, skip: Iterable[int] = (),
           bed_label: str = "", max_epipolar_px: float = 4.0) -> dict:
    """Record one session of n_frames (minus `skip`) into db as fast as possible; returns the summary.

    noise 2 px with a 4 px epipolar limit makes some joints invalid (NULL with a reason)."""
    cfg = config.load(None, {"store.db": (str(db), "test"), "sim.noise_px": (noise_px, "test"),
                             "stereo.max_epipolar_px": (max_epipolar_px, "test"),
                             "box.bed_label": (bed_label, "test"), "store.dump_dir": ("off", "test")}, environ={})
    src = SkippingSource(skip, seed=seed, n_frames=n_frames, paced=False, render=False)
    return record_session(cfg, n_frames / 30.0, True, open_source=lambda: src,
                          build_pose=lambda info: SimulatedKeypointModel(noise_px, seed))


@contextlib.contextmanager
def live_recording(db: Path, commit_interval_s: float) -> Iterator[dict]:
    """A live session (a paced synthetic camera, until stopped) recording into db in a thread, as
    `agma record` runs it; on leaving, the session is stopped (as Ctrl-C would) and the thread
    joined. The yielded dict holds the summary afterwards (key "summary")."""
    cfg = config.load(None, {"store.db": (str(db), "test"), "store.commit_interval_s": (commit_interval_s, "test"),
                             "store.dump_dir": ("off", "test")}, environ={})
    src = SkippingSource((), seed=2, n_frames=None, paced=True, render=False)
    out: dict = {}
    boxes: list = []
    thread = threading.Thread(target=lambda: out.setdefault("summary", record_session(
        cfg, None, False, on_box=boxes.append, open_source=lambda: src,
        build_pose=lambda info: SimulatedKeypointModel(1.0, 2))), name="test-recording")
    thread.start()
    try:
        yield out
    finally:
        wait_until(lambda: boxes or not thread.is_alive(), "the runtime open")
        if boxes:
            boxes[0].post(m.Shutdown("test", "stopped"))
        thread.join(DEADLINE_S)
    assert not thread.is_alive(), "the recorder did not stop"


def session_rows(db: Path, uid: str, table: str, order: str) -> list[tuple]:
    """Every row of `table` for session uid, in `order` (the database is the reference)."""
    conn = sqlite3.connect(db)
    try:
        sid = conn.execute("SELECT id FROM sessions WHERE uid = ?", (uid,)).fetchone()[0]
        return conn.execute(f"SELECT * FROM {table} WHERE session_id = ? ORDER BY {order}", (sid,)).fetchall()
    finally:
        conn.close()


SKIPPED = (10, 11, 33)  # frames that never arrived: gaps in frame_index


def export_fixture_db(tmp: Path) -> tuple[Path, str]:
    """A database with a session before the exported one and the exported one (60 frames, 3 missing,
    some invalid joints), so an export that mixed sessions or ignored gaps would show."""
    db = tmp / "box.sqlite"
    record(db, seed=8, n_frames=20)
    uid = record(db, seed=9, n_frames=60, skip=SKIPPED)["session_id"]
    return db, uid


def joints_by_frame(db: Path, uid: str) -> dict[int, list[tuple]]:
    """frame_index -> its 17 joints rows (joint, x, y, z, confidence, ..., invalid_reason) from the database."""
    out: dict[int, list[tuple]] = {}
    for row in session_rows(db, uid, "joints", "frame_index, joint"):
        out.setdefault(row[1], []).append(row[2:])
    return out


def sample_frames(by_frame: dict[int, list[tuple]]) -> list[int]:
    """First, last, one with an invalid joint, and a few between."""
    keys = sorted(by_frame)
    invalid = [k for k in keys if any(r[-1] is not None for r in by_frame[k])]
    assert invalid, "the fixture must hold invalid joints"
    return sorted({keys[0], keys[-1], keys[len(keys) // 2], invalid[0], invalid[-1], 12, 34})
