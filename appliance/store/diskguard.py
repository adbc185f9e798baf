"""Disk guard: refuse a session the disk cannot hold, and end one cleanly before the disk is full.

Before a session starts, the free space of the database's filesystem must cover
``store.min_free_mb`` plus the longest the session may last (``--duration``, else
``store.max_session_s``) at ``BYTES_PER_FRAME``, and the WAL's peak (``WAL_BYTES``); otherwise
the start is refused with the figures. During the session the writer reads the free space after every commit (one ``statvfs``, about a
microsecond) and, when it falls below ``store.min_free_mb``, the session ends as ``disk_full``:
the frames already queued are committed into that reserve, the session row is closed, an event
says why. A commit that fails anyway with SQLITE_FULL also ends the session as ``disk_full``; the
failed batch was never reported stored and every committed frame stays. Nothing is deleted to make
room: the only sessions ever deleted are those whose dumps were pulled, store.keep_days after they
ended (store/retention.py).

Free space is ``f_bavail`` (what an unprivileged process may use), so the root-reserved blocks
stay a margin of their own. MB here is 10^6 bytes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import AgmaError

MB = 1_000_000

#: Bytes one stored frame pair adds to the database file, measured with ``agma bench store``
#: (the default simulated heatmap pose stage, 2000 frames, checkpointed file, compact storage of
#: schema version 3): 2257 B with ground truth (simulation), 862 B without (a camera). The larger,
#: with about 10 % margin; tests/store/test_disk_guard_estimate.py keeps a recorded session
#: between 80 % of it and it. (Schema version 2 stored 3539 B and 2144 B: the bound was 3700 B.)
BYTES_PER_FRAME = 2500
#: Room for the write-ahead log beside the file: SQLite checkpoints it back into the database at
#: 1000 pages (4096 B + 24 B header each), so it peaks near 4.1 MB plus one commit's batch. (A
#: reader holding a snapshot for long can delay checkpoints; store.min_free_mb covers that.)
WAL_BYTES = 5_000_000


class DiskSpaceError(AgmaError):
    """Not enough free space to start a session (exit 1, nothing written)."""


def existing_dir(path: Path) -> Path:
    """The nearest existing directory at or above path's parent (the database may not exist yet)."""
    p = Path(path).absolute().parent
    while not p.is_dir():
        p = p.parent
    return p


def free_bytes(path: Path) -> int:
    """Free bytes an unprivileged writer may use on the filesystem holding path."""
    st = os.statvfs(existing_dir(path))
    return st.f_bavail * st.f_frsize


@dataclass(frozen=True)
class StartCheck:
    free_bytes: int
    needed_bytes: int
    max_frames: int
    dir: Path

    def figures(self) -> str:
        return (f"{self.free_bytes / MB:.1f} MB free on {self.dir}, {self.needed_bytes / MB:.1f} MB needed")


def check_start(db_path: Path, min_free_mb: float, max_frames: int, bytes_per_frame: int = BYTES_PER_FRAME,
                limit_from: str = "store.max_session_s") -> StartCheck:
    """Refuse (DiskSpaceError, one line with the figures) a session the disk cannot hold."""
    d = existing_dir(db_path)
    free = free_bytes(db_path)
    needed = int(min_free_mb * MB) + WAL_BYTES + max_frames * bytes_per_frame
    check = StartCheck(free_bytes=free, needed_bytes=needed, max_frames=max_frames, dir=d)
    if free < needed:
        raise DiskSpaceError(
            f"not enough disk space to start a session: {check.figures()} (store.min_free_mb {min_free_mb:g} MB + "
            f"WAL {WAL_BYTES / MB:g} MB + {max_frames} frames at most ({limit_from}) x {bytes_per_frame} B); "
            f"make room or shorten the session; nothing is deleted to make room")
    return check


class Reserve:
    """``<db>.reserve``: a few blocks the writer allocates at start and frees on SQLITE_FULL.

    When the disk fills faster than the per-commit check can see (or store.min_free_mb is 0), the
    failed commit frees these blocks so that the session row can still be closed as disk_full
    with its event. The file holds no data (zeros); it is the writer's own and recreated at the
    next start. Recordings are never deleted.
    """

    SIZE = 128 * 1024  # a few dozen WAL pages: the closing UPDATE and its event need a handful

    def __init__(self, db_path: Path) -> None:
        self.path = Path(f"{db_path}.reserve")
        self.held = False

    def ensure(self) -> bool:
        """Allocate the reserve (posix_fallocate: real blocks, not a sparse file); False when no room."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.posix_fallocate(fd, 0, self.SIZE)
            os.fsync(fd)
            self.held = True
        except OSError:
            os.ftruncate(fd, 0)
            self.held = False
        finally:
            os.close(fd)
        return self.held

    def release(self) -> None:
        """Give the reserve's blocks back to the filesystem (the file stays, empty)."""
        if self.held:
            self.held = False
            try:
                os.truncate(self.path, 0)
            except OSError:
                pass
