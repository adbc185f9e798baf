"""A second `agma daemon` on the same database is refused in one line, and the first keeps recording.

Why: two daemons on one box (a unit started twice, a technician's manual run) would fight over
the camera and the file; the write lock refuses the second before it writes anything, naming the
holder, and it must exit non-zero without disturbing the running one.
"""
from __future__ import annotations

from tests.helpers import agma

from .daemon_env import ctl, daemon_env, running_daemon, status, stop_daemon


def test_second_daemon_refused(tmp_path):
    env = daemon_env(tmp_path)
    with running_daemon(env) as proc:
        assert ctl(env, "start")[0] == 0
        second = agma("daemon", env=env, timeout=120)
        assert second.returncode == 1, second.stderr
        lines = [ln for ln in second.stderr.strip().splitlines() if "agma daemon:" in ln]
        assert len(lines) == 1 and str(proc.pid) in lines[0] and "Traceback" not in second.stderr, second.stderr
        assert status(env)["state"] == "recording"
        assert stop_daemon(proc) == 0
