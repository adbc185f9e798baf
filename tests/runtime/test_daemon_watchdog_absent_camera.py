"""Waiting for an absent camera is a condition, not a stall: READY=1 comes and the watchdog keeps being pinged.

Why: a box that boots without its camera (cable out, ZED not enumerated yet) must not be
restarted by systemd over and over: neither by a READY=1 that never comes (the start timeout)
nor by a watchdog that goes silent. The daemon is up once its store, status sinks and control
socket are; the camera's state is reported (STATUS=, `agma status`, MQTT, the LED), not judged
as a hung stage. The fault `absent@0+30` makes the real capture process find no device for the
first 30 s of the source's clock; the test needs far less than that.
"""
from __future__ import annotations

from tests.helpers import agma

from .daemon_env import daemon_env, running_daemon, status, stop_daemon
from .notify_socket import NotifySocket, index_of


def test_absent_camera_keeps_ready_and_the_pings(tmp_path):
    with NotifySocket(tmp_path) as ns:
        env = daemon_env(tmp_path, AGMA_CAPTURE__PROCESS="true", AGMA_SIM__FAULTS='["absent@0+30"]',
                         **ns.env(watchdog_usec=2_000_000))
        with running_daemon(env, ready=False) as proc:
            ns.wait_for(lambda ms: index_of(ms, "READY") >= 0, "READY=1 without a camera", proc=proc)
            ns.wait_for(lambda ms: sum(m.key == "WATCHDOG" for m in ms) >= 3, "pings without a camera", proc=proc)
            doc = status(env)  # after the pings: absent from the start, so it was absent while they came
            assert doc["camera"] == "absent" and doc["stalled"] == [] and doc["ready"] is False, doc
            text = agma("status", env=env)
            assert any(line.split() == ["camera", "absent"] for line in text.stdout.splitlines()), text.stdout
            assert stop_daemon(proc) == 0, proc.log.text()
        ms = ns.snapshot()

    keys = [m.key for m in ms]
    assert keys[0] == "READY" and keys.count("STOPPING") == 1, keys
    assert max(i for i, k in enumerate(keys) if k == "WATCHDOG") < keys.index("STOPPING"), keys
    statuses = [m.value for m in ms if m.key == "STATUS"]
    assert any("camera absent" in s for s in statuses), statuses
    assert not any("stalled" in s for s in statuses), statuses
