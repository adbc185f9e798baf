"""The database's write lock: exclusive, names its holder, and dies with its holder.

One writer per database is what makes recovery safe (an open session found by the lock's new
holder cannot belong to a live recorder), so the lock itself must never be held twice and never
outlive a killed holder: it is an flock, released by the kernel however the process ends.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from appliance.errors import AgmaError
from appliance.store.lock import DatabaseLock, DatabaseLocked, holder_pid, lock_path
from appliance.store.writer import StoreWriter
from tests.helpers import REPO

HOLD = """
import sys, time
from appliance.store.lock import DatabaseLock
DatabaseLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_second_acquire_refused_naming_the_holder(tmp_path):
    db = tmp_path / "l.sqlite"
    with DatabaseLock(db):
        assert holder_pid(db) == os.getpid()
        with pytest.raises(DatabaseLocked) as exc:
            DatabaseLock(db).acquire()  # even from the same process: one writer, full stop
        assert isinstance(exc.value, AgmaError)
        assert f"pid {os.getpid()}" in str(exc.value) and str(db) in str(exc.value)
    assert holder_pid(db) is None  # a clean release empties the pid
    with DatabaseLock(db) as again:
        assert again.previous_holder is None


def test_sigkilled_holder_leaves_no_stale_lock(tmp_path):
    """SIGKILL runs no cleanup: the kernel still drops the flock; the next holder learns the dead pid."""
    db = tmp_path / "k.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseLocked, match=f"pid {proc.pid}"):
            DatabaseLock(db).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert lock_path(db).read_text().strip() == str(proc.pid)  # the dead holder's pid is still written...
    lock = DatabaseLock(db).acquire()  # ...but the lock is free at once
    try:
        assert lock.previous_holder == proc.pid
        assert holder_pid(db) == os.getpid()
    finally:
        lock.release()


def test_writer_refused_before_writing_anything(tmp_path):
    """A StoreWriter on a locked path raises from start() and creates no database file."""
    db = tmp_path / "w.sqlite"
    with DatabaseLock(db):
        w = StoreWriter(db)
        t0 = time.monotonic()
        with pytest.raises(DatabaseLocked):
            w.start()
        assert time.monotonic() - t0 < 5
        assert not db.exists()
        w.stop()  # harmless after a refused start
    w = StoreWriter(db)  # free again once released
    w.start()
    w.stop()
    assert db.exists() and holder_pid(db) is None
