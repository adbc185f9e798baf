"""A box that boots without its camera stays up, says `camera: absent`, and records once it appears.

Why: a daemon that exited when the camera was missing at start would be restarted by systemd over
and over (a start loop) until someone plugged the cable, and the monitors would see the box
flapping offline instead of one clear "camera absent". Waiting for an absent camera is a condition,
not a failure (issue 13). The fault `absent@0+8` makes the real capture process find no device for
the first 8 s of the source's clock; the daemon must answer status meanwhile with the camera
absent and refuse a start, then become ready on its own and record a session. A wrong config must
still fail the start at once (exit 78: never a start loop either).
"""
from __future__ import annotations

from tests.helpers import DEADLINE_S, agma, wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon


def test_daemon_waits_for_an_absent_camera(tmp_path):
    env = daemon_env(tmp_path, AGMA_CAPTURE__PROCESS="true", AGMA_SIM__FAULTS='["absent@0+8"]')
    with running_daemon(env, ready=False) as proc:
        wait_until(lambda: status(env).get("camera") == "absent", "camera: absent reported", proc=proc)
        doc = status(env)
        assert doc["ready"] is False and proc.poll() is None
        code, refused = ctl(env, "start")
        assert code != 0 and "camera" in refused.get("error", ""), refused
        wait_until(lambda: status(env).get("ready"), "ready once the camera appeared", proc=proc,
                   timeout=max(DEADLINE_S, 120))
        assert status(env)["camera"] == "ok"
        code, started = ctl(env, "start")
        assert code == 0, started
        wait_until(lambda: status(env).get("frames", 0) >= 30, "frames recorded", proc=proc)
        code, _ = ctl(env, "stop")
        assert code == 0
        assert stop_daemon(proc) == 0, proc.log.text()
    [row] = session_rows(tmp_path / "box.sqlite")
    assert row["end_reason"] == "stopped" and row["stored"] >= 30


def test_a_wrong_capture_config_still_fails_the_start(tmp_path):
    env = daemon_env(tmp_path, AGMA_CAPTURE__PROCESS="true", AGMA_SIM__FAULTS='["melt@0+1"]')
    p = agma("daemon", env=env, timeout=DEADLINE_S)
    assert p.returncode == 78, p.stderr
    assert "Traceback" not in p.stderr
