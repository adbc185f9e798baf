"""The single writer: one thread owns the SQLite connection, fed by a bounded queue.

Frames are committed in batches, one transaction per ``commit_interval_s``. A frame counts as
stored only after its COMMIT returns: ``stored_frames`` and ``last_stored_t_ns`` move then and
only then, and each commit also advances ``sessions.frames`` in the same transaction.

A live source offers frames without waiting (a full queue counts the frame as dropped); offline
work waits for room instead. Anything else that writes (sessions, calibrations, events) goes
through ``call``, which runs in the writer thread after the pending frames are committed.
"""
from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..frames import Pose3D
from ..joints import NUM_JOINTS
from .schema import create_schema

log = logging.getLogger(__name__)

JOURNAL_MODE = "wal"
SYNCHRONOUS = "FULL"  # one fsync per commit: a power cut loses at most the batch being committed

_FRAME_SQL = "INSERT INTO frames(session_id, frame_index, t_ns, valid_joints, latency_ms) VALUES (?, ?, ?, ?, ?)"
_JOINT_SQL = ("INSERT INTO joints(session_id, frame_index, joint, x_mm, y_mm, z_mm, confidence, left_u, left_v, "
              "left_score, right_u, right_v, right_score, epipolar_px, invalid_reason) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_TRUTH_SQL = ("INSERT INTO ground_truth(session_id, frame_index, joint, x_mm, y_mm, z_mm, left_u, left_v, right_u, "
              "right_v) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_STOP = object()


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the database for writing: WAL, synchronous FULL, explicit transactions."""
    import sqlite_utils

    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    conn = db.conn
    conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
    conn.execute("PRAGMA busy_timeout = 5000")
    mode = conn.execute(f"PRAGMA journal_mode = {JOURNAL_MODE}").fetchone()[0]
    if mode.lower() != JOURNAL_MODE:
        raise sqlite3.OperationalError(f"{path}: cannot switch to WAL (journal_mode is {mode})")
    conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    conn.execute("PRAGMA foreign_keys = ON")
    create_schema(conn)
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection):
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _nan_to_none(values: list) -> list:
    return [None if isinstance(v, float) and v != v else v for v in values]


def frame_rows(session_id: int, pose: Pose3D) -> tuple[tuple, list[tuple], list[tuple]]:
    """One Pose3D -> (frames row, 17 joints rows, 17 ground_truth rows or [])."""
    frame = (session_id, pose.frame_index, pose.t_ns, pose.valid_joints, pose.latency_ms)
    l, r = pose.left, pose.right
    cols = np.column_stack([
        pose.xyz_mm, pose.confidence, l.uv_px, l.score, r.uv_px, r.score, pose.epipolar_px,
    ]).astype(np.float64).tolist()
    joints = [(session_id, pose.frame_index, j, *_nan_to_none(cols[j]), pose.invalid_reason[j]) for j in range(NUM_JOINTS)]
    truth: list[tuple] = []
    if pose.truth is not None:
        t = np.column_stack([pose.truth.xyz_mm, pose.truth.left_uv_px, pose.truth.right_uv_px]).tolist()
        truth = [(session_id, pose.frame_index, j, *t[j]) for j in range(NUM_JOINTS)]
    return frame, joints, truth


class StoreWriter:
    def __init__(self, path: Path, commit_interval_s: float = 0.5, queue_frames: int = 512) -> None:
        self.path = Path(path)
        self.commit_interval_s = commit_interval_s
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._lock = threading.Lock()
        self._stored = 0
        self._dropped = 0
        self._last_t_ns: int | None = None
        self._commits = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._ready: Future = Future()
        self.heartbeat = time.monotonic()

    # -- the caller's side ---------------------------------------------------------------------------
    def start(self) -> None:
        """Open the database in the writer thread; raises here if it cannot be opened."""
        self._thread.start()
        self._ready.result()

    def offer(self, session_id: int, pose: Pose3D, wait: bool) -> bool:
        """Queue one frame for the next commit. Live (wait=False): a full queue drops it (counted)."""
        if self.error is not None:
            return False
        if wait:
            self._queue.put((session_id, pose))
            return True
        try:
            self._queue.put_nowait((session_id, pose))
            return True
        except queue.Full:
            with self._lock:
                self._dropped += 1
            return False

    def call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run fn(conn) in the writer thread inside its own transaction, after pending frames commit."""
        fut: Future = Future()
        self._queue.put((fn, fut))
        return fut.result()

    def stop(self) -> None:
        """Commit everything already queued, then close the connection."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()

    @property
    def stored_frames(self) -> int:
        with self._lock:
            return self._stored

    @property
    def dropped_frames(self) -> int:
        with self._lock:
            return self._dropped

    @property
    def last_stored_t_ns(self) -> int | None:
        with self._lock:
            return self._last_t_ns

    # -- the writer thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            conn = connect(self.path)
        except BaseException as exc:  # reported to start()
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        self.conn = conn
        pending: list[tuple[int, Pose3D]] = []
        deadline = time.monotonic() + self.commit_interval_s
        try:
            while True:
                timeout = max(0.0, deadline - time.monotonic())
                try:
                    item = self._queue.get(timeout=timeout)
                except queue.Empty:
                    item = None
                self.heartbeat = time.monotonic()
                if item is _STOP:
                    self._flush(conn, pending)
                    return
                if item is not None and callable(item[0]):
                    self._flush(conn, pending)
                    fn, fut = item
                    try:
                        with transaction(conn):
                            fut.set_result(fn(conn))
                    except BaseException as exc:
                        fut.set_exception(exc)
                    continue
                if item is not None:
                    if self.error is None:
                        pending.append(item)
                if time.monotonic() >= deadline:
                    self._flush(conn, pending)
                    deadline = time.monotonic() + self.commit_interval_s
        finally:
            conn.close()

    def _flush(self, conn: sqlite3.Connection, pending: list) -> None:
        if not pending or self.error is not None:
            pending.clear()
            return
        frames, joints, truth, per_session = [], [], [], {}
        for session_id, pose in pending:
            f, j, t = frame_rows(session_id, pose)
            frames.append(f)
            joints.extend(j)
            truth.extend(t)
            per_session[session_id] = per_session.get(session_id, 0) + 1
        try:
            with transaction(conn):
                conn.executemany(_FRAME_SQL, frames)
                conn.executemany(_JOINT_SQL, joints)
                if truth:
                    conn.executemany(_TRUTH_SQL, truth)
                for session_id, n in per_session.items():
                    conn.execute("UPDATE sessions SET frames = frames + ? WHERE id = ?", (n, session_id))
        except BaseException as exc:
            log.error("store: commit of %d frames failed: %s", len(frames), exc)
            self.error = exc
            pending.clear()
            return
        with self._lock:
            self._stored += len(frames)
            self._last_t_ns = max(f[2] for f in frames)
            self._commits += 1
        pending.clear()
