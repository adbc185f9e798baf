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

When the writer fails it says so and never leaves anyone waiting. Anything that goes wrong in
the writer thread other than a full disk and the caller's own ``fn`` — a commit or BEGIN that
fails (an I/O error, a locked file), the free-space check raising (``statvfs`` failing with EIO:
a disk going away), a bug — sets ``error`` (a StoreWriterError naming the step and the cause),
fails every pending ``call``/``flush`` with it, ends the thread, and every later ``call``,
``flush`` or ``offer`` fails at once; the frames not yet committed are lost and counted as
dropped, every committed one stays. ``call`` and ``flush`` also give up after ``timeout_s``
(StoreTimeout), and a writer that did not answer in time counts as failed too. After a failure
the caller closes its session row with ``close_session_after_failure``: a fresh connection of
its own, in the calling thread, still under this writer's lock (so still the only writer of the
file), ended at the last committed frame. A commit that fails with SQLITE_FULL is not a failure
of the writer: ``disk_full`` is set, the batch is dropped, later frames are refused and calls
still run (the reserve lets the row close).

Housekeeping (``maintain``: store/retention.py's pruning and VACUUM, the daemon's idle moments) runs
in the writer thread too, on the same connection, and yields to everything else: SQLite's
progress handler interrupts it (rolled back) as soon as another item is queued.

Before anything is written the file is checked (``PRAGMA quick_check``, store/integrity.py): a
damaged database is refused with one line and left untouched.
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
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AgmaError
from ..frames import Pose3D
from ..joints import NUM_JOINTS
from . import diskguard, integrity, migrations, outbox, recovery
from .lock import DatabaseLock, resolved
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
_MAINTAIN = object()  # marks a maintain() item: (_MAINTAIN, job, future)
#: SQLite virtual-machine instructions between two calls of the progress handler during maintain().
_PROGRESS_EVERY = 10_000
#: How long ``call`` and ``flush`` wait by default, seconds. A healthy writer answers within one
#: commit (SQLite's own busy timeout is 5 s); a writer slower than this is treated as failed.
DEFAULT_TIMEOUT_S = 60.0
#: Whole numbers of joint_samples must fit SQLite's 64-bit INTEGER: a scaled value at or beyond
#: this (|x| >= 9.2e16 mm: never a coordinate) is stored NULL, like NaN and infinity.
_INT64_LIMIT = 2.0 ** 63


class StoreWriterError(AgmaError):
    """The store writer failed: its step and cause. The session ends as error (exit 1)."""


class StoreTimeout(StoreWriterError):
    """The store writer did not answer within the timeout (a stalled disk): treated as failed."""


def open_database(path: Path, synchronous: str = SYNCHRONOUS) -> tuple[sqlite3.Connection, list[str]]:
    """Open (creating or migrating if needed) the database for writing: WAL, synchronous FULL,
    explicit transactions. The caller holds the write lock. -> (connection, migrations applied).

    A file from a newer agma is refused before anything is written to it.
    """
    import sqlite_utils

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    integrity.check_before_writing(path)  # a damaged file is refused, untouched (read-only connection)
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
    number (np.rint), NaN (or any non-finite value, or one beyond 64 bits) -> NULL; the invalid
    reason -> its code. NaN is a normal state here (missing = NaN plus a reason), so the
    arithmetic runs under np.errstate: no RuntimeWarning.
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
    with np.errstate(over="ignore", invalid="ignore"):  # huge -> inf, NaN stays NaN: both become NULL
        scaled = np.rint(vals * _SCALES)
        missing = ~(np.abs(scaled) < _INT64_LIMIT)  # NaN compares False: missing too
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


def _error(step: str, exc: BaseException) -> StoreWriterError:
    """The writer's failure: which step, and its cause (also kept as __cause__)."""
    err = StoreWriterError(f"{step}: {exc}")
    err.__cause__ = exc
    return err


class StoreWriter:
    """The one writer of one database file (see the module's doc).

    min_free_mb: below this much free space after a commit the writer sets ``disk_full``
    (0: only a failed commit does). After ``start``: ``recovered`` lists the sessions closed as
    interrupted, ``migrations`` the schema migrations applied. queue_events: MQTT is configured, so
    each event row this writer inserts also enters ``mqtt_outbox`` (store/outbox.py). ``error``: None while the writer
    works; once it has failed, the StoreWriterError that ended it (the session ends as error).
    """

    def __init__(self, path: Path, commit_interval_s: float = 0.5, queue_frames: int = 512,
                 min_free_mb: float = 0.0, queue_events: bool = False) -> None:
        self.path = Path(path)
        self.queue_events = queue_events  # MQTT configured: every event this writer inserts is queued (store/outbox.py)
        self.commit_interval_s = commit_interval_s
        self.min_free_bytes = int(min_free_mb * diskguard.MB)
        self.disk_full = False
        self.disk_detail: str | None = None
        self.recovered: list[recovery.RecoveredSession] = []
        self.migrations: list[str] = []
        self.error: StoreWriterError | None = None
        self._db_lock = DatabaseLock(self.path)
        self._reserve = diskguard.Reserve(self.path)
        self._queue: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._lock = threading.Lock()
        self._stored = 0
        self._dropped = 0
        self._last_t_ns: int | None = None
        self._pending: list[tuple[int, Pose3D]] = []  # the next batch (the writer thread's own)
        self._refusing = False  # a commit failed on a full disk: later frames are not committed
        self._ended = threading.Event()  # the writer thread has ended
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._ready: Future = Future()
        self.heartbeat = time.monotonic()

    # -- the caller's side ---------------------------------------------------------------------------
    def start(self) -> None:
        """Take the write lock, then open (check, migrate, recover) the database in the writer thread.

        Raises here, having written nothing, when the path is a folder, another process holds the
        lock (DatabaseLocked naming its pid), the file is damaged (DatabaseDamaged) or from a newer
        agma (SchemaError); raises too if it cannot be opened.
        """
        real = resolved(self.path)
        if real.is_dir():
            raise AgmaError(f"{self.path} is a folder, not a database file: name a file in it "
                            f"(e.g. {self.path / 'agma.sqlite'})")
        if real.exists() and not real.is_file():
            raise AgmaError(f"{self.path} is not a regular file: name a database file")
        self._db_lock.acquire()
        try:
            self._thread.start()
            self._ready.result()
        except BaseException:
            self._thread.join()
            self._db_lock.release()
            raise

    def offer(self, session_id: int, pose: Pose3D, wait: bool) -> bool:
        """Queue one frame for the next commit -> True. False when it is not queued: a live frame
        (wait=False) meeting a full queue (counted as dropped), or any frame once the writer has
        failed, stopped or met a full disk (the session is ending)."""
        if self._closed():
            return False
        item = (session_id, pose)
        if not wait:
            try:
                self._queue.put_nowait(item)
                return True
            except queue.Full:
                with self._lock:
                    self._dropped += 1
                return False
        while True:  # wait for room, but never on a writer that fails meanwhile
            try:
                self._queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                if self._closed():
                    return False

    def call(self, fn: Callable[[sqlite3.Connection], Any], timeout_s: float | None = DEFAULT_TIMEOUT_S) -> Any:
        """Run fn(conn) in the writer thread inside its own transaction, after pending frames commit.

        -> fn's value, once COMMIT has returned. An exception of fn itself reaches the caller, rolled
        back, and the writer goes on. Raises StoreWriterError at once when the writer has failed or
        is not running, the writer's error when it fails meanwhile, StoreTimeout after timeout_s
        (None: wait as long as it takes).
        """
        return self._submit(fn, timeout_s, "a write")

    def maintain(self, job: Callable[[sqlite3.Connection], Any]) -> Future:
        """Queue ``job(conn)`` for the writer thread, run outside any transaction (it opens its own),
        and return at once with the Future of its value: the daemon's idle housekeeping
        (store/retention.py: prune pulled sessions, VACUUM), which must never delay anything else.

        While it runs, SQLite's progress handler stamps the writer's heartbeat (a long VACUUM is no
        stall) and interrupts it as soon as anything else is queued (a call, a frame, ``stop``): the
        running statement fails with sqlite3.OperationalError('interrupted') and is rolled back, and
        the other item is served. The job's exceptions go to the Future; the writer goes on. Raises
        StoreWriterError at once when the writer has failed or is not running.
        """
        if self.error is not None:
            raise self.error
        if self._ended.is_set() or not self._thread.is_alive():
            raise StoreWriterError("the store writer is not running")
        fut: Future = Future()
        self._queue.put((_MAINTAIN, job, fut))
        if self._ended.is_set():
            self._drain()
        return fut

    def flush(self, timeout_s: float | None = DEFAULT_TIMEOUT_S) -> None:
        """Commit the frames queued so far (no other write). A full disk is no failure here (see
        ``disk_full``); raises as ``call`` does when the writer fails or does not answer in time."""
        self._submit(None, timeout_s, "a flush")

    def stop(self, timeout_s: float | None = None) -> bool:
        """Commit everything already queued (unless the writer failed), close the connection, release
        the write lock -> True. False when the thread did not end within timeout_s (stuck in a system
        call): the lock then stays held, since that thread may still write, until the process ends."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        left = lambda: None if deadline is None else max(0.0, deadline - time.monotonic())
        while self._thread.is_alive():
            try:
                self._queue.put(_STOP, timeout=0.2)
                break
            except queue.Full:
                if deadline is not None and time.monotonic() >= deadline:
                    break
        if self._thread.ident is not None:
            self._thread.join(left())
        if self._thread.is_alive():
            log.error("store: the writer thread did not end within %g s; the write lock stays held", timeout_s)
            return False
        self._db_lock.release()
        return True

    def close_session_after_failure(self, session_id: int, end_reason: str, dropped_frames: int,
                                    detail: str | None = None,
                                    timeout_s: float = DEFAULT_TIMEOUT_S) -> recovery.RecoveredSession:
        """Once the writer has failed: close session ``session_id`` on a fresh connection, in the
        calling thread, ended at its last committed frame (store/recovery.close_at_last_frame).

        Why this is safe: this writer still holds the write lock, so no other process writes the
        file; the failed thread writes nothing more (it has ended, or ends at its next step, and
        were it stuck inside a transaction SQLite's own lock would order the two: busy for up to
        timeout_s). A fresh connection also reads the file anew instead of trusting one that has
        just failed. Raises (sqlite3.Error, OSError) when even this fails — the file gone, the disk
        dead, still locked by a stuck thread — and the row stays open: the next writer to take the
        lock closes it as interrupted, at the same last committed frame.
        """
        if self.error is None and self._thread.is_alive():
            raise RuntimeError("the writer works: close sessions through call()")
        if not self._db_lock.held:
            raise StoreWriterError("the write lock is no longer held")
        conn = sqlite3.connect(self.path, timeout=timeout_s, isolation_level=None)
        try:
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
            conn.execute("PRAGMA foreign_keys = ON")
            if self.queue_events:
                outbox.enable(conn)
            with transaction(conn):
                closed = recovery.close_at_last_frame(conn, session_id, end_reason, dropped_frames, detail)
        finally:
            conn.close()
        log.warning("store: session %s closed as %s on a fresh connection after the writer failed "
                    "(%d committed frames kept)", closed.uid, end_reason, closed.frames)
        return closed

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

    def _closed(self) -> bool:
        return self.error is not None or self._refusing or self._ended.is_set()

    def _submit(self, fn: Callable[[sqlite3.Connection], Any] | None, timeout_s: float | None, what: str) -> Any:
        if self.error is not None:
            raise self.error
        if self._ended.is_set() or not self._thread.is_alive():
            raise StoreWriterError("the store writer is not running")
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        fut: Future = Future()
        try:
            self._queue.put((fn, fut), timeout=timeout_s)
        except queue.Full:
            raise self._timed_out(what, timeout_s) from None
        if self._ended.is_set():  # the thread ended meanwhile: nobody else will answer what is queued
            self._drain()
        try:
            return fut.result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            fut.cancel()  # not begun yet: the writer skips it
            raise self._timed_out(what, timeout_s) from None

    def _timed_out(self, what: str, timeout_s: float | None) -> StoreWriterError:
        return self._fail(StoreTimeout(f"the store writer did not answer {what} within {timeout_s:g} s "
                                       f"(a stalled disk?)"))

    # -- the writer thread -----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            conn = self._open()
        except BaseException as exc:  # reported to start()
            self._ended.set()
            self._ready.set_exception(exc)
            return
        for r in self.recovered:
            log.warning("store: session %s was left open by a recorder that died; closed as interrupted "
                        "(%d committed frames kept)", r.uid, r.frames)
        self._ready.set_result(None)
        try:
            self._serve(conn)
        except BaseException as exc:  # anything at all: the writer fails, says why, and leaves nobody waiting
            self._fail(exc)
        finally:
            lost = len(self._pending)
            self._pending.clear()
            try:
                conn.close()
            except sqlite3.Error as exc:
                log.error("store: closing the connection failed: %s", exc)
            self._ended.set()
            self._drain(lost)

    def _open(self) -> sqlite3.Connection:
        conn, self.migrations = open_database(self.path)
        try:
            if self.queue_events:  # before recovery: its session_recovered events go out too
                outbox.enable(conn)
            with transaction(conn):
                self.recovered = recovery.close_interrupted(conn, self._db_lock.previous_holder)
            self._check_disk()
            if not self._reserve.ensure():
                log.warning("store: no room for %s; a sudden full disk may leave the session row open "
                            "(the next recorder closes it as interrupted)", self._reserve.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _serve(self, conn: sqlite3.Connection) -> None:
        """Batch frames, answer calls; returns at _STOP or once ``error`` is set (a caller gave up)."""
        pending = self._pending
        deadline = time.monotonic() + self.commit_interval_s
        while self.error is None:
            try:
                item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                item = None
            self.heartbeat = time.monotonic()
            if item is _STOP:
                self._flush(conn, pending)
                return
            if item is not None and item[0] is _MAINTAIN:
                self._maintain(conn, pending, item[1], item[2])
                continue
            if item is not None and isinstance(item[1], Future):
                self._answer(conn, pending, *item)
                continue
            if item is not None:
                pending.append(item)
            if time.monotonic() >= deadline:
                self._flush(conn, pending)
                deadline = time.monotonic() + self.commit_interval_s

    def _answer(self, conn: sqlite3.Connection, pending: list, fn, fut: Future) -> None:
        """One call() or flush(): the pending frames first, then fn in a transaction of its own."""
        if not fut.set_running_or_notify_cancel():  # its caller stopped waiting (and failed the writer)
            return
        try:
            self._flush(conn, pending)
        except BaseException as exc:
            fut.set_exception(self._fail(exc))
            return
        if fn is None:  # flush(): no transaction of its own
            fut.set_result(None)
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:
            fut.set_exception(self._fail(_error("a write could not begin", exc)))
            return
        try:
            value = fn(conn)
        except BaseException as exc:  # the caller's own failure: rolled back, reported to it; the writer goes on
            self._rollback(conn)
            if is_disk_full(exc):
                self._set_disk_full(f"a write failed: {exc}")
            fut.set_exception(exc)
            return
        try:
            conn.execute("COMMIT")
        except BaseException as exc:
            self._rollback(conn)
            if is_disk_full(exc):  # the caller learns it; the writer goes on (the session ends as disk_full)
                self._set_disk_full(f"a write failed: {exc}")
                fut.set_exception(exc)
            else:
                fut.set_exception(self._fail(_error("a commit failed", exc)))
            return
        fut.set_result(value)  # only once COMMIT has returned

    def _maintain(self, conn: sqlite3.Connection, pending: list, job, fut: Future) -> None:
        """One maintain() job: pending frames first, then the job under the progress handler."""
        if not fut.set_running_or_notify_cancel():
            return
        try:
            self._flush(conn, pending)
        except BaseException as exc:
            fut.set_exception(self._fail(exc))
            return

        def progress() -> int:  # the writer thread, inside SQLite: stamp, and yield to anything queued
            self.heartbeat = time.monotonic()
            return 1 if (self.error is not None or not self._queue.empty()) else 0

        conn.set_progress_handler(progress, _PROGRESS_EVERY)
        try:
            value = job(conn)
        except BaseException as exc:  # the job's own failure (or interruption): reported to it; the writer goes on
            self._rollback(conn)
            if is_disk_full(exc):
                log.warning("store: housekeeping met a full disk: %s", exc)
            fut.set_exception(exc)
            return
        finally:
            conn.set_progress_handler(None, 0)
            self.heartbeat = time.monotonic()
        fut.set_result(value)

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Roll back what is open (SQLite may have done it already); a connection that cannot is not trusted."""
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                self._fail(_error("a rollback failed", exc))

    def _flush(self, conn: sqlite3.Connection, pending: list) -> None:
        """Commit the batch. Raises StoreWriterError when the commit fails (except on a full disk)."""
        if not pending:
            return
        n = len(pending)
        if self._refusing:  # a commit already failed on a full disk: the reserve is kept for the session row
            pending.clear()
            with self._lock:
                self._dropped += n
            return
        frames, truth, per_session = [], [], {}
        try:
            for session_id, pose in pending:
                frames.append(_frame_row(session_id, pose))
                truth.extend(_truth_rows(session_id, pose))
                per_session[session_id] = per_session.get(session_id, 0) + 1
            joints = joint_sample_rows(pending)
            with transaction(conn):
                insert_rows(conn, frames, joints, truth, per_session)
        except BaseException as exc:
            pending.clear()
            with self._lock:
                self._dropped += n  # never stored
            if is_disk_full(exc):
                log.error("store: commit of %d frames failed: %s", n, exc)
                self._refusing = True
                self._set_disk_full(f"a commit of {n} frames failed: {exc} "
                                    f"({self._free_mb_text()} free)")
                return
            raise _error(f"a commit of {n} frames failed", exc)
        with self._lock:
            self._stored += n
            self._last_t_ns = max(f[2] for f in frames)
        pending.clear()
        self._check_disk()

    def _free_mb_text(self) -> str:
        try:
            return f"{diskguard.free_bytes(self.path) / diskguard.MB:.1f} MB"
        except OSError as exc:
            return f"unknown ({exc})"

    def _check_disk(self) -> None:
        """One statvfs per commit: below min_free_mb the session must end (the reserve takes the rest)."""
        if self.disk_full or self.min_free_bytes <= 0:
            return
        try:
            free = diskguard.free_bytes(self.path)
        except OSError as exc:  # EIO: a disk going away; the writer fails (it cannot tell whether there is room)
            raise _error("the free-space check failed", exc)
        if free < self.min_free_bytes:
            self._set_disk_full(f"{free / diskguard.MB:.1f} MB free on {diskguard.existing_dir(self.path)}, "
                                f"below store.min_free_mb {self.min_free_bytes / diskguard.MB:g} MB")

    def _set_disk_full(self, detail: str) -> None:
        self._reserve.release()  # room for closing the session row and its event
        if not self.disk_full:
            self.disk_detail = detail
            self.disk_full = True
            log.error("store: disk full: %s; ending the session", detail)

    def _fail(self, exc: BaseException) -> StoreWriterError:
        """Record the writer's failure (the first one wins) and return it; the thread ends at its next step."""
        if not isinstance(exc, StoreWriterError):
            exc = _error(f"the store writer failed ({type(exc).__name__})", exc)
        with self._lock:
            first = self.error is None
            if first:
                self.error = exc
        if first:
            log.error("store: %s; the writer stops (every committed frame is kept)", exc)
        return self.error

    def _drain(self, lost: int = 0) -> None:
        """Answer whatever is still queued once the thread has ended: calls fail with the writer's
        error, frames are lost (counted as dropped, with ``lost`` more from the batch it held)."""
        err = self.error or StoreWriterError("the store writer has stopped")
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                continue
            if item[0] is _MAINTAIN:
                if item[2].set_running_or_notify_cancel():
                    item[2].set_exception(err)
                continue
            if isinstance(item[1], Future):
                if item[1].set_running_or_notify_cancel():
                    item[1].set_exception(err)
            else:
                lost += 1
        if lost:
            with self._lock:
                self._dropped += lost
