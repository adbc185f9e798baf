"""Under systemd the daemon speaks the notify protocol: READY=1, WATCHDOG=1, STATUS=, then STOPPING=1.

Why: the box runs as a `Type=notify` service with a watchdog. systemd must learn when the daemon
is up (READY=1: the store, the status sinks and the control socket are there), must be pinged
while the box works (WATCHDOG=1 at half of WATCHDOG_USEC, or it kills and restarts the service),
shows the STATUS= line in `systemctl status`, and must hear STOPPING=1 when SIGTERM begins the
shutdown — after which the open recording still ends as `shutdown` with every frame committed
and the exit code is 0 (a clean stop, not a failure).

A real AF_UNIX datagram socket (an abstract address here, as systemd may hand one) receives
what the real daemon sends; the order of the messages is asserted, and the watchdog interval is
the one the daemon says it chose (half of a 2 s WATCHDOG_USEC: a ping every second), not a
timing measured on a busy machine.
"""
from __future__ import annotations

from tests.helpers import wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon
from .notify_socket import NotifySocket, index_of


def test_ready_watchdog_status_then_stopping(tmp_path):
    with NotifySocket(abstract=True) as ns:
        env = daemon_env(tmp_path, **ns.env(watchdog_usec=2_000_000))
        with running_daemon(env, args=("-v",)) as proc:
            ns.wait_for(lambda ms: index_of(ms, "READY") >= 0, "READY=1", proc=proc)
            chose = proc.log.wait_for(lambda line: "watchdog ping every" in line and line)
            assert chose and "watchdog ping every 1.000 s" in chose, chose
            code, started = ctl(env, "start")
            assert code == 0, started
            last = wait_until(lambda: (s := status(env))["frames"] >= 10 and s, "10 committed frames", proc=proc)
            ns.wait_for(lambda ms: any(m.key == "STATUS" and m.value.startswith("recording") for m in ms),
                        "a STATUS= line while recording", proc=proc)
            before = len(ns.lines("WATCHDOG"))
            ns.wait_for(lambda ms: sum(m.key == "WATCHDOG" for m in ms) >= before + 2, "pings while recording",
                        proc=proc)
            assert stop_daemon(proc) == 0, proc.log.text()
        ms = ns.snapshot()

    keys = [m.key for m in ms]
    assert keys[0] == "READY", keys  # first, with the first STATUS= line in the same datagram
    assert keys[1] == "STATUS" and ms[1].t_s == ms[0].t_s, keys
    assert keys.count("READY") == 1 and keys.count("STOPPING") == 1, keys
    stop = keys.index("STOPPING")
    pings = [i for i, k in enumerate(keys) if k == "WATCHDOG"]
    assert len(pings) >= 3 and pings[-1] < stop, keys  # none after STOPPING=1
    statuses = [m.value for m in ms if m.key == "STATUS"]
    assert statuses[0].startswith("idle, ") and ", no session, " in statuses[0], statuses  # camera: maybe not yet
    recording = [s for s in statuses if s.startswith("recording")]
    assert recording and all(f"session {started['session_id']}" in s and "camera ok" in s and " fps" in s
                             for s in recording), statuses
    assert not any("stalled" in s for s in statuses), statuses
    [row] = session_rows(tmp_path / "box.sqlite")
    assert row["uid"] == started["session_id"] and row["end_reason"] == "shutdown"
    assert row["frames"] == row["stored"] >= last["frames"]


def test_no_notify_socket_no_notifier(tmp_path):
    """Without NOTIFY_SOCKET (a terminal, a container) nothing is sent and nothing about systemd is logged."""
    env = daemon_env(tmp_path)
    with running_daemon(env, args=("-v",)) as proc:
        assert stop_daemon(proc) == 0
    assert "systemd" not in proc.log.join(), proc.log.text()
