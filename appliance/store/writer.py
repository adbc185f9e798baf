"""The single writer: one thread owns the SQLite connection, fed by a bounded queue.

Durability (docs/durability.md): WAL with ``synchronous=FULL``, so every COMMIT is fsynced before
it returns; a crash or kill loses nothing committed, a power cut at most the batch being committed
(one ``store.commit_interval_s``) on storage that honours flushes.

One writer per database: ``start`` takes the exclusive lock ``<db>.lock`` (store/lock.py) before
the file is opened for writing, and ``stop`` releases it after the connection is closed. Holding
it, the writer thread refuses a file from a newer agma, migrates an older one (after a backup,
store/migrations.py), and closes the sessions a dead holder left open (store/recovery.py,
``recovered``). After every commit it reads the free disk space; below ``min_free_mb``, or when a
commit fails with SQLITE_FULL, ``disk_full`` is set and the recorder ends the session as
``disk_full`` (store/diskguard.py).

Frames are committed in batches, one transaction per ``commit_interval_s``. A frame counts as
stored only after its COMMIT returns: ``stored_frames`` and ``last_stored_t_ns`` move then and
only then, and each commit also advances ``sessions.frames`` in the same transaction.

Joint rows go to ``joint_samples`` as whole numbers (schema.py: 0.01 mm, 0.001 px, scores x 10^4,
the invalid reason as a code; NaN -> NULL), converted for a whole batch at once with NumPy;
researchers read them back through the view ``joints``.

A live source offers frames without waiting (a full queue counts the frame as dropped); offline
work waits for room instead. Anything else that writes (sessions, calibrations, events) goes
through ``call``, which runs in the writer thread after the pending frames are committed.
"""
from __future__ import annotations

import errno
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

from ..errors import AgmaError
from ..frames import Pose3D
from ..joints import NUM_JOINTS
from . import diskguard, migrations, recovery
from .lock import DatabaseLock
from .schema import INVALID_CODE_BY_REASON, SCORE_SCALE, UV_SCALE, XYZ_SCALE

log = logging.getLogger(__name__)

JOURNAL_MODE = "wal"
SYNCHRONOUS = "FULL"  # one fsync per commit: a power cut loses at most the batch being committed

_FRAME_SQL = "INSERT INTO frames(session_id, frame_index, t_ns, valid_joints, latency_ms) VALUES (?, ?, ?, ?, ?)"
_JOINT_SQL = ("INSERT INTO joint_samples(session_id, frame_index, joint, x_10um, y_10um, z_10um, left_u_mpx, "
              "left_v_mpx, left_score_e4, right_u_mpx, right_v_mpx, right_score_e4, invalid_code) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
#: The scale of each stored value column of joint_samples, in _JOINT_SQL's order (x, y, z, left u, v, score, right ...).
_SCALES = np.array([XYZ_SCALE] * 3 + [UV_SCALE, UV_SCALE, SCORE_SCALE] * 2, dtype=np.float64)
_TRUTH_SQL = ("INSERT INTO ground_truth(session_id, frame_index, joint, x_mm, y_mm, z_mm, left_u, left_v, right_u, "
              "right_v) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_STOP = object()


def open_database(path: Path, synchronous: str = SYNCHRONOUS) -> tuple[sqlite3.Connection, list[str]]:
    """Open (creating or migrating if needed) the database for writing: WAL, synchronous FULL,
    explicit transactions. The caller holds the write lock. -> (connection, migrations applied).

    A file from a newer agma is refused before anything is written to it.
    """
    import sqlite_utils

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite_utils.Database(path)
    conn = db.conn
    try:
        conn.isolation_level = None  # we issue BEGIN/COMMIT ourselves
        conn.execute("PRAGMA busy_timeout = 5000")
        try:
            version = migrations.check_version(conn, path)
        except sqlite3.DatabaseError as exc:
            raise AgmaError(f"{path}: cannot read it as an SQLite database ({exc}); nothing was changed") from None
        mode = conn.execute(f"PRAGMA journal_mode = {JOURNAL_MODE}").fetchone()[0]
        if mode.lower() != JOURNAL_MODE:
            raise sqlite3.OperationalError(f"{path}: cannot switch to WAL (journal_mode is {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA foreign_keys = ON")
        applied = migrations.prepare(conn, path, version)
    except BaseException:
        conn.close()
        raise
    return conn, applied


def connect(path: Path, synchronous: str = SYNCHRONOUS) -> sqlite3.Connection:
    """open_database without the list of migrations."""
    return open_database(path, synchronous)[0]


def is_disk_full(exc: BaseException) -> bool:
    """SQLITE_FULL (Python 3.10 has no sqlite_errorcode: its message is fixed) or ENOSPC."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == getattr(sqlite3, "SQLITE_FULL", 13) or "database or disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC


@contextmanager
def transaction(conn: sqlite3.Connection):
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may have rolled back already (SQLITE_FULL, I/O errors)
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                log.error("store: rollback failed: %s", exc)
        raise


def _invalid_code(reason: str | None) -> int | None:
    if reason is None:
        return None
    try:
        return INVALID_CODE_BY_REASON[reason]
    except KeyError:
        raise ValueError(f"invalid_reason {reason!r} has no code in store.schema.INVALID_REASON_CODES") from None


def joint_sample_rows(items: list[tuple[int, Pose3D]]) -> list[list]:
    """(session_id, Pose3D) pairs -> their joint_samples rows (17 each, in order), as lists.

    One NumPy pass for the whole batch: each value times its scale, rounded to the nearest whole
    number (np.rint), NaN (or any non-finite value) -> NULL; the invalid reason -> its code.
    """
    n = len(items)
    vals = np.empty((n, NUM_JOINTS, 9), dtype=np.float64)
    keys = np.empty((n, 2), dtype=np.int64)
    codes = []
    for i, (session_id, pose) in enumerate(items):
        keys[i] = session_id, pose.frame_index
        v = vals[i]
        v[:, 0:3] = pose.xyz_mm
        v[:, 3:5] = pose.left.uv_px
        v[:, 5] = pose.left.score
        v[:, 6:8] = pose.right.uv_px
        v[:, 8] = pose.right.score
        codes.extend(map(_invalid_code, pose.invalid_reason))
    scaled = np.rint(vals * _SCALES)
    missing = ~np.isfinite(scaled)
    out = np.empty((n, NUM_JOINTS, 13), dtype=object)
    out[:, :, 0] = keys[:, 0, None]
    out[:, :, 1] = keys[:, 1, None]
    out[:, :, 2] = np.arange(NUM_JOINTS)
    out[:, :, 3:12] = np.where(missing, 0.0, scaled).astype(np.int64)  # Python ints in an object array
    out[:, :, 3:12][missing] = None
    out[:, :, 12] = np.array(codes, dtype=object).reshape(n, NUM_JOINTS)
    return out.reshape(n * NUM_JOINTS, 13).tolist()


def _frame_row(session_id: int, pose: Pose3D) -> tuple:
    return (session_id, pose.frame_index, pose.t_ns, pose.valid_joints, pose.latency_ms)


def frame_rows(session_id: int, pose: Pose3D) -> tuple[tuple, list[tuple], list[tuple]]:
    """One Pose3D -> (frames row, 17 joint_samples rows, 17 ground_truth rows or []), as stored."""
    joints = [tuple(r) for r in joint_sample_rows([(session_id, pose)])]
    return _frame_row(session_id, pose), joints, _truth_rows(session_id, pose)


def _truth_rows(session_id: int, pose: Pose3D) -> list[tuple]:
    if pose.truth is None:
        return []
    t = np.column_stack([pose.truth.xyz_mm, pose.truth.left_uv_px, pose.truth.right_uv_px]).tolist()
    return [(session_id, pose.frame_index, j, *t[j]) for j in range(NUM_JOINTS)]


def insert_rows(conn: sqlite3.Connection, frames: list, joints: list, truth: list, per_session: dict[int, int]) -> None:
    """One batch's INSERTs and each session's ``frames`` count (the caller holds the transaction)."""
    conn.executemany(_FRAME_SQL, frames)
    conn.executemany(_JOINT_SQL, joints)
    if truth:
        conn.executemany(_TRUTH_SQL, truth)
    for session_id, n in per_session.items():
        conn.execute("UPDATE sessions SET frames = frames + ? WHERE id = ?", (n, session_id))


class StoreWriter:
    """The one writer of one database file (see the module's doc).

    min_free_mb: below this much free space after a commit the writer sets ``disk_full``
    (0: only a failed commit does). After ``start``: ``recovered`` lists the sessions closed as
    interrupted, ``migrations`` the schema migrations applied.
    """

    def __init__(self, path: Path, commit_interval_s: float = 0.5, queue_frames: int = 512,
                 min_free_mb: float = 0.0) -> None:
        self.path = Path(path)
        self.commit_interval_s = commit_interval_s
        self.min_free_bytes = int(min_free_mb * diskguard.MB)
        self.disk_full = False
        self.disk_detail: str | None = None
        self.recovered: list[recovery.RecoveredSession] = []
        self.migrations: list[str] = []
        self._db_lock = DatabaseLock(self.path)
        self._reserve = diskguard.Reserve(self.path)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._lock = threading.Lock()
        self._stored = 0
        self._dropped = 0
        self._last_t_ns: int | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._ready: Future = Future()
        self.heartbeat = time.monotonic()

    # -- the caller's side ---------------------------------------------------------------------------
    def start(self) -> None:
        """Take the write lock, then open (migrate, recover) the database in the writer thread.

        Raises here, having written nothing, when another process holds the lock (DatabaseLocked
        naming its pid) or the file is from a newer agma (SchemaError); raises too if it cannot be opened.
        """
        self._db_lock.acquire()
        try:
            self._thread.start()
            self._ready.result()
        except BaseException:
            self._thread.join()
            self._db_lock.release()
            raise

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

    def flush(self) -> None:
        """Commit the frames queued so far (no other write; cannot fail on a full disk itself)."""
        fut: Future = Future()
        self._queue.put((None, fut))
        fut.result()

    def stop(self) -> None:
        """Commit everything already queued, close the connection, release the write lock."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join()
        self._db_lock.release()

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
            conn, self.migrations = open_database(self.path)
            try:
                with transaction(conn):
                    self.recovered = recovery.close_interrupted(conn, self._db_lock.previous_holder)
                self._check_disk()
                if not self._reserve.ensure():
                    log.warning("store: no room for %s; a sudden full disk may leave the session row open "
                                "(the next recorder closes it as interrupted)", self._reserve.path)
            except BaseException:
                conn.close()
                raise
        except BaseException as exc:  # reported to start()
            self._ready.set_exception(exc)
            return
        for r in self.recovered:
            log.warning("store: session %s was left open by a recorder that died; closed as interrupted "
                        "(%d committed frames kept)", r.uid, r.frames)
        self._ready.set_result(None)
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
                if item is not None and isinstance(item[1], Future):
                    self._flush(conn, pending)
                    fn, fut = item
                    if fn is None:  # flush(): no transaction of its own
                        fut.set_result(None)
                        continue
                    try:
                        with transaction(conn):
                            value = fn(conn)
                    except BaseException as exc:  # fn or its COMMIT failed: the caller gets the exception
                        if is_disk_full(exc):
                            self._set_disk_full(f"a write failed: {exc}")
                        fut.set_exception(exc)
                    else:
                        fut.set_result(value)  # only once COMMIT has returned
                    continue
                if item is not None and self.error is None:
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
        frames, truth, per_session = [], [], {}
        for session_id, pose in pending:
            frames.append(_frame_row(session_id, pose))
            truth.extend(_truth_rows(session_id, pose))
            per_session[session_id] = per_session.get(session_id, 0) + 1
        try:
            joints = joint_sample_rows(pending)
            with transaction(conn):
                insert_rows(conn, frames, joints, truth, per_session)
        except BaseException as exc:
            log.error("store: commit of %d frames failed: %s", len(frames), exc)
            if is_disk_full(exc):
                self._set_disk_full(f"a commit of {len(frames)} frames failed: {exc} "
                                    f"({diskguard.free_bytes(self.path) / diskguard.MB:.1f} MB free)")
            self.error = exc
            pending.clear()
            return
        with self._lock:
            self._stored += len(frames)
            self._last_t_ns = max(f[2] for f in frames)
        pending.clear()
        self._check_disk()

    def _check_disk(self) -> None:
        """One statvfs per commit: below min_free_mb the session must end (the reserve takes the rest)."""
        if self.disk_full or self.min_free_bytes <= 0:
            return
        free = diskguard.free_bytes(self.path)
        if free < self.min_free_bytes:
            self._set_disk_full(f"{free / diskguard.MB:.1f} MB free on {diskguard.existing_dir(self.path)}, "
                                f"below store.min_free_mb {self.min_free_bytes / diskguard.MB:g} MB")

    def _set_disk_full(self, detail: str) -> None:
        self._reserve.release()  # room for closing the session row and its event
        if not self.disk_full:
            self.disk_detail = detail
            self.disk_full = True
            log.error("store: disk full: %s; ending the session", detail)
