"""A real small filesystem for disk-full tests: a tmpfs mounted for the test, unmounted after.

These tests run as root (CI and the box's acceptance do). Where mounting is impossible the test
fails, loudly, rather than skip: a disk guard that is never exercised on a full disk proves nothing.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest


@contextlib.contextmanager
def tmpfs(path: Path, size: str):
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"cannot mount a {size} tmpfs on {path} (these disk-full tests need root): "
                    f"{proc.stderr.strip() or proc.returncode}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill(path: Path, leave_bytes: int = 0) -> Path:
    """A filler file taking all but ``leave_bytes`` of the free space (0: every last block)."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        size = max(0, free_bytes(path) - leave_bytes)
        if size:
            os.posix_fallocate(fd, 0, size)
        if leave_bytes == 0:  # take what allocation granularity left, block by block
            chunk = b"\0" * 4096
            os.lseek(fd, 0, os.SEEK_END)
            try:
                while True:
                    os.write(fd, chunk)
            except OSError:
                pass
            os.fsync(fd)
    finally:
        os.close(fd)
    return filler
