"""SIGTERM while the daemon records: exit 0, the session closed as `shutdown`, every frame committed.

Why: systemd stops the box with SIGTERM (an update, a reboot). The nurse's recording must end
cleanly, with at least every frame the desk was last told about, and the exit code must say the
stop was clean (0), or systemd would count a failure.
"""
from __future__ import annotations

from tests.helpers import wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon


def test_sigterm_while_recording(tmp_path):
    env = daemon_env(tmp_path)
    with running_daemon(env) as proc:
        code, started = ctl(env, "start")
        assert code == 0, started
        last = wait_until(lambda: (s := status(env))["frames"] >= 10 and s, "10 committed frames", proc=proc)
        assert stop_daemon(proc) == 0, proc.log.text()
    [row] = session_rows(tmp_path / "box.sqlite")
    assert row["uid"] == started["session_id"] and row["end_reason"] == "shutdown"
    assert row["frames"] == row["stored"] >= last["frames"]
    assert not (tmp_path / "agma.sock").exists(), "the control socket was left behind"
    assert not (tmp_path / "box.sqlite.lock").exists() or True  # the lock file may stay; its flock is gone
