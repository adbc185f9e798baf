"""The camera in its own process: a pulled cable, a hung grab and a crash, each survived in one session.

Why: the ZED SDK's grab() can block for ever after a USB replug and only a process can be killed.
With capture.process on, a daemon records one session through a stop (no frames for 3 s, the
process alive), a hang (the process blocks for ever: killed after camera.hang_after_s and
replaced) and a crash (exit status 3: replaced at once), injected inside the real capture process
(sim.faults). The session must stay open and end as `stopped`; each interruption must give
camera_lost, then (hang, crash) camera_restarted with its detail, then camera_restored, in that
order; every gap must be a hole in frame_index; the daemon itself is never replaced, and nothing
is left in /dev/shm. How fast each step happens is measured elsewhere, not here: the test waits
for each state with a generous deadline.
"""
from __future__ import annotations

import os
import sqlite3

from tests.helpers import wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, stop_daemon

FAULTS = '["stop@4+3", "hang@10+0", "crash@17+0"]'


def _events(db) -> list[tuple[str, str | None]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT kind, detail FROM events ORDER BY id").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def test_stop_hang_crash_in_one_session(tmp_path):
    db = tmp_path / "box.sqlite"
    env = daemon_env(tmp_path, AGMA_CAPTURE__PROCESS="true", AGMA_SIM__FAULTS=FAULTS)
    with running_daemon(env) as proc:
        daemon_pid = proc.pid
        code, started = ctl(env, "start")
        assert code == 0, started
        wait_until(lambda: sum(k == "camera_restored" for k, _ in _events(db)) >= 3, "three recoveries", proc=proc,
                   timeout=240)
        code, stopped = ctl(env, "stop")
        assert code == 0 and stopped["session_id"] == started["session_id"]
        assert proc.pid == daemon_pid and proc.poll() is None  # the daemon was never replaced
        assert stop_daemon(proc) == 0, proc.log.text()
    [row] = session_rows(db)
    assert row["end_reason"] == "stopped"
    kinds = [(k, d) for k, d in _events(db) if k.startswith("camera_")]
    assert [k for k, _ in kinds] == ["camera_lost", "camera_restored",
                                     "camera_lost", "camera_restarted", "camera_restored",
                                     "camera_lost", "camera_restarted", "camera_restored"], kinds
    assert kinds[3][1] == "hung" and kinds[6][1] == "exit status 3"
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT frame_index, t_ns FROM frames WHERE session_id = ? ORDER BY frame_index",
                            (row["id"],)).fetchall()
    finally:
        conn.close()
    idx = [i for i, _ in rows]
    assert idx[0] == 0 and len(set(idx)) == len(idx) == row["frames"]
    assert all(i == round((t - rows[0][1]) * 30 / 1e9) for i, t in rows)  # slots of the camera's clock
    # each interruption is a hole in frame_index around the moment it was noticed (camera_lost)
    conn = sqlite3.connect(db)
    try:
        lost_at = [t for (t,) in conn.execute("SELECT t_ns FROM events WHERE kind = 'camera_lost' ORDER BY id")]
    finally:
        conn.close()
    for t in lost_at:
        before = max(i for i, ft in rows if ft < t)
        after = min(i for i, ft in rows if ft > t)
        assert after - before > 1, (before, after)
    holes = sorted(b - a - 1 for a, b in zip(idx, idx[1:]))
    assert holes[-1] >= 60, holes[-5:]  # the 3 s stop (90 slots) and the 3 s hang leave the longest holes
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(f"agma-cam-{daemon_pid}-")], "a capture ring was left behind"
