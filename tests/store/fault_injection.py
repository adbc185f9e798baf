"""`agma` with one injected fault: ``python -m tests.store.fault_injection ARGS`` (from the repository).

The code under test runs unchanged; only the world around it misbehaves, as a failing disk would.
Chosen by environment variables (not AGMA_*: those are configuration):

- ``FAULT_STATVFS_EIO_AFTER=N``: ``os.statvfs`` answers N times, then raises OSError(EIO) for
  ever (a disk going away, a USB stick pulled: the free-space check after a commit fails);
- ``FAULT_COMMIT_FAILS_AFTER=N``: on the connections the store-writer thread opens, N COMMITs
  go through, then every COMMIT raises ``sqlite3.OperationalError('disk I/O error')`` before it
  reaches SQLite (so nothing of it is committed, as with SQLITE_IOERR on the WAL's fsync); a
  connection opened by any other thread is a plain one;
- ``FAULT_COMMIT_FAILS_WHILE=PATH`` (with the above): COMMITs fail only while the file PATH
  exists; the test removes it when the disk "comes back" (the daemon's store then reopens).
"""
from __future__ import annotations

import errno
import os
import sqlite3
import sys
import threading


def _statvfs_fails_after(n: int) -> None:
    real, calls = os.statvfs, [0]

    def statvfs(path):
        calls[0] += 1
        if calls[0] > n:
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(path))
        return real(path)

    os.statvfs = statvfs


def _writer_commits_fail_after(n: int, while_exists: str | None = None) -> None:
    commits = [0]

    class FailingCommits(sqlite3.Connection):
        def execute(self, sql, *args):
            if isinstance(sql, str) and sql.strip().upper() == "COMMIT":
                commits[0] += 1
                if commits[0] > n and (while_exists is None or os.path.exists(while_exists)):
                    raise sqlite3.OperationalError("disk I/O error")
            return super().execute(sql, *args)

    real_connect = sqlite3.connect

    def connect(*args, **kwargs):
        if threading.current_thread().name == "store-writer":
            kwargs["factory"] = FailingCommits
        return real_connect(*args, **kwargs)

    sqlite3.connect = connect


def main() -> None:
    if "FAULT_STATVFS_EIO_AFTER" in os.environ:
        _statvfs_fails_after(int(os.environ["FAULT_STATVFS_EIO_AFTER"]))
    if "FAULT_COMMIT_FAILS_AFTER" in os.environ:
        _writer_commits_fail_after(int(os.environ["FAULT_COMMIT_FAILS_AFTER"]), os.environ.get("FAULT_COMMIT_FAILS_WHILE"))
    from appliance.cli import console_main

    sys.argv = ["agma", *sys.argv[1:]]
    console_main()


if __name__ == "__main__":
    main()
