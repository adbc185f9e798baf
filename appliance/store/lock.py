"""One writer per database: an exclusive ``flock`` on ``<db>.lock``, which holds the holder's pid.

The lock belongs to an open file description, so the kernel releases it when the holder's process
ends in any way (exit, crash, SIGKILL, power cut): a dead holder never leaves a stale lock, and
no pid-liveness guessing is needed. The pid in the file is only there to name the holder in the
refusal message and, when the file still holds a pid at the next acquisition, to say which
process died without releasing it (a clean release empties the file).

Readers (``agma sessions``, dumps, ``sqlite3`` itself) never take this lock: SQLite's WAL lets
them read while the writer writes. The lock file is never deleted: deleting it would let a new
process lock a fresh inode while an old one still holds the unlinked file.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import AgmaError


class DatabaseLocked(AgmaError):
    """Another live process holds the database's write lock (exit 1, nothing written)."""


def lock_path(db_path: Path) -> Path:
    return Path(os.fspath(db_path) + ".lock")


class DatabaseLock:
    """``with DatabaseLock(db): ...`` or ``acquire()``/``release()``; not re-entrant, even in one process."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.path = lock_path(self.db_path)
        self._fd: int | None = None
        #: pid left in the file by a previous holder that never released the lock (it died), else None.
        self.previous_holder: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> DatabaseLock:
        """Take the lock without waiting; DatabaseLocked naming the holder's pid when another process has it."""
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd, wait_s=0.5)  # the holder writes its pid right after locking
            os.close(fd)
            who = f"pid {holder}" if holder is not None else "a process that has not written its pid yet"
            raise DatabaseLocked(
                f"{self.db_path}: another recorder is writing this database ({who}, lock {self.path}); "
                f"one writer per database: stop it first or record to another --db") from None
        except BaseException:
            os.close(fd)
            raise
        self.previous_holder = _read_pid(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Empty the pid (a clean release) and unlock; the file stays."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_pid(fd: int, wait_s: float = 0.0) -> int | None:
    deadline = time.monotonic() + wait_s
    while True:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)


def holder_pid(db_path: Path) -> int | None:
    """The pid written in ``<db>.lock`` (a reader's hint only: it may be a dead process's)."""
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return _read_pid(fd)
    finally:
        os.close(fd)
