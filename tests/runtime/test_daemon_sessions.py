"""`agma daemon` driven only through `agma start|stop|status --json`, as a nurse's button and a desk would.

Why: the box opens its camera and engine once and sessions are episodes inside the runtime. A
start must answer with the session id and record; a second start is refused naming the open
session; a stop ends it as `stopped` with its bed label; a second session reuses the source and
the engine (source_opens and engine_loads do not move); status tells the truth throughout.
"""
from __future__ import annotations

from tests.helpers import wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon


def test_daemon_sessions(tmp_path):
    env = daemon_env(tmp_path)
    with running_daemon(env) as proc:
        idle = status(env)
        assert idle["state"] == "idle" and idle["health"] == "ok" and idle["camera"] == "ok"
        assert idle["engine"] == "ready" and idle["session_id"] is None

        code, started = ctl(env, "start", "--bed", "Bed 3")
        assert code == 0 and started["ok"], started
        uid = started["session_id"]
        assert uid.startswith("testbox-")

        first = wait_until(lambda: (s := status(env))["frames"] > 0 and s, "frames committed", proc=proc)
        assert first["state"] == "recording" and first["session_id"] == uid and first["bed_label"] == "Bed 3"
        later = wait_until(lambda: (s := status(env))["frames"] > first["frames"] and s, "frames growing", proc=proc)
        assert later["elapsed_s"] > first["elapsed_s"]

        code, again = ctl(env, "start")
        assert code == 1 and not again["ok"] and uid in again["error"], again

        code, stopped = ctl(env, "stop")
        assert code == 0 and stopped == {"ok": True, "session_id": uid}
        code, idle_stop = ctl(env, "stop")
        assert code == 1 and idle_stop["error"] == "not recording"

        opens, loads = idle["source_opens"], idle["engine_loads"]
        assert (opens, loads) == (1, 1)
        code, second = ctl(env, "start")
        assert code == 0 and second["ok"] and second["session_id"] != uid
        wait_until(lambda: status(env)["frames"] > 0, "the second session's first frame", proc=proc)
        now = status(env)
        assert (now["source_opens"], now["engine_loads"]) == (opens, loads), "a session reopened the source or engine"
        assert stop_daemon(proc) == 0

    rows = session_rows(tmp_path / "box.sqlite")
    assert [(r["uid"], r["end_reason"]) for r in rows] == [(uid, "stopped"), (second["session_id"], "shutdown")]
    assert rows[0]["bed_label"] == "Bed 3"
    for r in rows:
        assert r["frames"] == r["stored"] > 0
        assert r["events"][0] == "session_started" and r["events"][-1] == "session_ended"
