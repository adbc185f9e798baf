"""SIGKILL while the daemon records, then a new daemon: the old session interrupted, a new one continuing it.

Why: a crash or a power cut must not end a nurse's recording for good. The next daemon closes
the open session as `interrupted` at its last committed frame (store/recovery.py) and, since it
was interrupted less than store.resume_after_crash_s ago, continues it as a new session whose
continues_session points to it, with a session_continues event saying so.
"""
from __future__ import annotations

import signal

from tests.helpers import wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon


def test_sigkill_then_resume(tmp_path):
    env = daemon_env(tmp_path)
    with running_daemon(env) as proc:
        code, started = ctl(env, "start", "--bed", "Warmer 2")
        assert code == 0, started
        wait_until(lambda: status(env)["frames"] >= 5, "5 committed frames", proc=proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    with running_daemon(env, ready=False) as proc2:
        now = wait_until(lambda: (s := status(env))["state"] == "recording" and s, "the continued session", proc=proc2)
        assert now["session_id"] != started["session_id"] and now["bed_label"] == "Warmer 2"
        assert stop_daemon(proc2) == 0, proc2.log.text()
    old, new = session_rows(tmp_path / "box.sqlite")
    assert old["uid"] == started["session_id"] and old["end_reason"] == "interrupted" and old["stored"] >= 5
    assert new["continues_session"] == old["id"] and new["end_reason"] == "shutdown"
    assert "session_continues" in new["events"] and "session_recovered" in old["events"]
