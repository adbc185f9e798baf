"""One writer per database: an exclusive ``flock`` on ``<db>.lock``, which holds the holder's record.

The lock is named after the **file**, not the spelling of its path: ``<db>`` is the database's
resolved path (``os.path.realpath``: symlinks, ``..`` and relative spellings all lead to one
name), so a second recorder through a symlink or another spelling is refused like any other.
A bind mount of the folder reaches the same lock file (the same inode, hence the same flock).
What no name can catch is a second hard link to the database file in another folder: don't make
one. The record in the file is the holder's pid on the first line, then the database's device
and inode and its resolved path (``-`` before the file exists), for people and for the refusal
message.

The lock belongs to an open file description, so the kernel releases it when the holder's process
ends in any way (exit, crash, SIGKILL, power cut): a dead holder never leaves a stale lock, and
no pid-liveness guessing is needed. The pid in the file is only there to name the holder in the
refusal message and, when the file still holds a pid at the next acquisition, to say which
process died without releasing it (a clean release empties the file).

Readers (``agma sessions``, dumps, ``sqlite3`` itself) never take this lock: SQLite's WAL lets
them read while the writer writes. The lock file is never deleted: deleting it would let a new
process lock a fresh inode while an old one still holds the unlinked file (``acquire`` checks,
after locking, that the file it locked is still the one at the path, and starts again if not).
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ..errors import AgmaError


class DatabaseLocked(AgmaError):
    """Another live process holds the database's write lock (exit 1, nothing written)."""


def resolved(db_path: Path) -> Path:
    """The database file's one name: symlinks, '..' and relative spellings resolved (it may not exist yet)."""
    return Path(os.path.realpath(db_path))


def lock_path(db_path: Path) -> Path:
    """``<resolved db>.lock``: every spelling of one database's path gives this one lock file."""
    return Path(os.fspath(resolved(db_path)) + ".lock")


def _record(pid: int, db: Path) -> bytes:
    """The holder's record: its pid, then the database's device:inode and resolved path."""
    try:
        st = os.stat(db)
        ident = f"{st.st_dev}:{st.st_ino}"
    except OSError:  # not created yet: the writer creates it once it holds the lock
        ident = "-"
    return f"{pid}\n{ident} {db}\n".encode()


class DatabaseLock:
    """``with DatabaseLock(db): ...`` or ``acquire()``/``release()``; not re-entrant, even in one process."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = Path(db_path)
        self.real_path = resolved(self.db_path)
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
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read_pid(fd, wait_s=0.5)  # the holder writes its pid right after locking
                os.close(fd)
                who = f"pid {holder}" if holder is not None else "a process that has not written its pid yet"
                spelled_otherwise = os.fspath(self.real_path) != os.path.abspath(self.db_path)
                also = f" (the file {self.real_path})" if spelled_otherwise else ""
                raise DatabaseLocked(
                    f"{self.db_path}{also}: another recorder is writing this database ({who}, lock {self.path}); "
                    f"one writer per database: stop it first or record to another --db") from None
            except BaseException:
                os.close(fd)
                raise
            if _same_file(fd, self.path):
                break
            os.close(fd)  # someone deleted or replaced the lock file meanwhile: lock the one at the path
        self.previous_holder = _read_pid(fd)
        record = _record(os.getpid(), self.real_path)
        os.pwrite(fd, record, 0)  # the pid line first, then cut what an older, longer record left:
        os.ftruncate(fd, len(record))  # a refused writer never reads an empty file in between
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


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _read_pid(fd: int, wait_s: float = 0.0) -> int | None:
    """The pid on the record's first line (earlier records held nothing else)."""
    deadline = time.monotonic() + wait_s
    while True:
        lines = os.pread(fd, 4096, 0).decode("utf-8", "replace").splitlines()
        text = lines[0].strip() if lines else ""
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
