"""The store fails while the daemon records: the session ends as `error`, the daemon stays up and says
so, starts are refused while it lasts, and once the store reopens the box records again.

Why: a disk that throws I/O errors for a while (a failing eMMC block, a USB stick reseated) must
not take the box down or leave a nurse's start hanging. The committed frames stay, the session row
is closed at its last committed frame, `agma status` says `error` with the cause (exit 1 for a
health check), a start is refused with the store's error, no call hangs, and the daemon reopens
the store with backoff. The fault is injected around the real code (tests/store/fault_injection.py):
the writer's COMMITs fail while a marker file exists, as SQLITE_IOERR would, and the test ends
the failure by removing it.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys

from tests.helpers import Lines, agma, clean_env, spawned, wait_until

from .daemon_env import ctl, daemon_env, session_rows, status, stop_daemon


def test_store_failure_while_recording(tmp_path):
    broken = tmp_path / "disk-is-failing"
    broken.touch()
    env = daemon_env(tmp_path, FAULT_COMMIT_FAILS_AFTER="15", FAULT_COMMIT_FAILS_WHILE=str(broken))
    with spawned([sys.executable, "-m", "tests.store.fault_injection", "daemon"], env=clean_env(env),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        log = Lines(proc.stderr)
        wait_until(lambda: status(env).get("ready"), "the daemon ready", proc=proc)
        code, started = ctl(env, "start")
        assert code == 0, started
        failed = wait_until(lambda: (s := status(env))["store"] == "error" and s, "the store failure seen", proc=proc)
        assert failed["health"] == "error" and "disk I/O error" in failed["error"]
        assert failed["state"] == "idle" and failed["session_id"] is None  # the session has ended
        p = agma("status", env=env)
        assert p.returncode == 1  # a health check sees the failure
        code, refused = ctl(env, "start")
        assert code == 1 and "store error" in refused["error"], refused
        broken.unlink()  # the disk comes back: the daemon's next attempt (backoff) reopens the store
        wait_until(lambda: status(env)["store"] == "ok", "the store reopened", proc=proc)
        code, again = ctl(env, "start")
        assert code == 0, again
        wait_until(lambda: status(env)["frames"] > 5, "frames of the new session", proc=proc)
        code, stopped = ctl(env, "stop")
        assert code == 0, stopped
        assert stop_daemon(proc) == 0, log.text()
    rows = session_rows(tmp_path / "box.sqlite")
    first, last = rows[0], rows[-1]
    assert first["uid"] == started["session_id"] and first["end_reason"] == "error"
    assert first["frames"] == first["stored"] > 0 and first["ended_at_ns"] is not None
    assert last["uid"] == again["session_id"] and last["end_reason"] == "stopped" and last["stored"] > 5
    conn = sqlite3.connect(tmp_path / "box.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        end_t = conn.execute("SELECT MAX(t_ns) FROM frames WHERE session_id = ?", (first["id"],)).fetchone()[0]
        assert first["ended_at_ns"] == end_t  # closed at its last committed frame
    finally:
        conn.close()
