"""The database's write lock: exclusive, names its holder, and dies with its holder.

One writer per database is what makes recovery safe (an open session found by the lock's new
holder cannot belong to a live recorder), so the lock itself must never be held twice and never
outlive a killed holder: it is an flock, released by the kernel however the process ends.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest

from appliance.errors import AgmaError
from appliance.store.lock import DatabaseLock, DatabaseLocked, holder_pid, lock_path
from appliance.store.writer import StoreWriter
from tests.helpers import DEADLINE_S, Lines, spawned, stop_group

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
    """SIGKILL runs no cleanup: the kernel still drops the flock; the next holder learns the dead pid.

    The holder runs under tests.helpers.spawned (killed however the test ends), and its "held" line
    is waited for with a deadline rather than a bare readline that would block for ever.
    """
    db = tmp_path / "k.sqlite"
    with spawned([sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True) as proc:
        out = Lines(proc.stdout)
        assert out.wait_for(lambda line: line.strip() == "held"), f"the holder never took the lock: {out.text()!r}"
        with pytest.raises(DatabaseLocked, match=f"pid {proc.pid}"):
            DatabaseLock(db).acquire()
        stop_group(proc)  # SIGKILL, reaped
        out.join()
    assert lock_path(db).read_text().splitlines()[0] == str(proc.pid)  # the dead holder's pid is still written...
    lock = DatabaseLock(db).acquire()  # ...but the lock is free at once
    try:
        assert lock.previous_holder == proc.pid
        assert holder_pid(db) == os.getpid()
    finally:
        lock.release()


def test_writer_refused_before_writing_anything(tmp_path):
    """A StoreWriter on a locked path raises from start() and creates no database file.

    It is refused, not queued behind the holder: start() returns (raising) while the lock is still
    held. That is checked without a wall-clock bound (it used to be "< 5 s", which a busy machine
    can break): start() runs in a thread and must have ended within DEADLINE_S with the lock
    still held throughout; a start() that waited for the lock would never end before the release.
    """
    db = tmp_path / "w.sqlite"
    with DatabaseLock(db):
        w = StoreWriter(db)
        raised: list[BaseException] = []

        def start() -> None:
            try:
                w.start()
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                raised.append(exc)

        t = threading.Thread(target=start, daemon=True)
        t.start()
        t.join(DEADLINE_S)
        assert not t.is_alive(), "StoreWriter.start() waited for the lock instead of refusing"
        assert len(raised) == 1 and isinstance(raised[0], DatabaseLocked), raised
        assert not db.exists()
        w.stop()  # harmless after a refused start
    w = StoreWriter(db)  # free again once released
    w.start()
    w.stop()
    assert db.exists() and holder_pid(db) is None
