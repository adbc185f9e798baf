"""Fixtures for the status tests: a short folder for sockets."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    """A short folder under /tmp: an AF_UNIX path has at most 107 bytes, and pytest's tmp_path can be longer.

    Mode 0755, so a client running as another user (the peer-check tests) can reach a socket in it.
    """
    path = Path(tempfile.mkdtemp(prefix="agma-", dir="/tmp"))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
