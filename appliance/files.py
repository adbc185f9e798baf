"""Small file facts shared by stages (kept here so no stage imports another for them).

Durability, one rule for the whole project (:func:`fsync_dir`): a file that must survive a power
cut is written under a temporary name in its folder, fsynced, renamed into place, and then the
folder is fsynced, so that the rename itself is on disk. :func:`atomic_write` does all of it.
"""
from __future__ import annotations

import errno
import hashlib
import os
import tempfile
from pathlib import Path

#: errno values of fsync(2) on a folder whose filesystem does not implement it (procfs, sysfs,
#: some FUSE and network filesystems): EINVAL and EROFS ("fd is bound to a special file which
#: does not support synchronization"), ENOTSUP/EOPNOTSUPP (the same number on Linux).
DIR_FSYNC_UNSUPPORTED = frozenset({errno.EINVAL, errno.EROFS, errno.ENOTSUP, errno.EOPNOTSUPP})


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks (hashlib.file_digest is 3.11+; the box runs 3.10)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def fsync_file(path: str | os.PathLike) -> None:
    """fsync an existing file's data and metadata; any failure (EIO: data lost) raises OSError."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: str | os.PathLike) -> None:
    """fsync folder ``path``, so that a file created or renamed in it survives a power cut.

    The rule: every failure raises OSError naming the folder -- a folder that cannot be opened
    (missing, not a folder, no read permission) and an fsync error (EIO: the entry may be lost).
    The caller promised a durable file and cannot give it, so it must not report success.
    The one exception: a filesystem that does not implement fsync on a folder (errno in
    DIR_FSYNC_UNSUPPORTED: procfs, some FUSE and network filesystems) returns quietly; the rename
    is then as durable as that filesystem makes it, and no other call could make it more so.
    """
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # OSError carries the path
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno in DIR_FSYNC_UNSUPPORTED:
            return
        raise OSError(exc.errno, f"cannot fsync folder: {exc.strerror}", os.fspath(path)) from None
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, durably.

    A temporary file in the same folder (created there; mode 0600 as mkstemp makes it), written,
    fsynced, renamed over ``path``, then :func:`fsync_dir` on the folder. The temporary file is
    removed on any failure. The folder must exist. Returns ``path`` as a Path.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path
