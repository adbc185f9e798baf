"""What systemd's environment means to the notifier: the socket's address, the watchdog's interval, the STATUS= line.

Why: systemd hands a service its notify socket as a path or an abstract '@name'
($NOTIFY_SOCKET), the watchdog as microseconds ($WATCHDOG_USEC) and the process it is for
($WATCHDOG_PID: a child that inherited the variables must not ping for its parent); sd_notify(3)
ignores anything else. The interval is half the watchdog, as sd_watchdog_enabled(3) advises.
The hand transport is checked against a real datagram socket at both kinds of address.
"""
from __future__ import annotations

import os
import socket
import uuid

import pytest

from appliance.status.systemd_notify import (DatagramTransport, NotifyView, notify_socket, status_line,
                                             syslog_priority, watchdog_interval_s)


def test_notify_socket_address():
    assert notify_socket({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert notify_socket({"NOTIFY_SOCKET": "@/org/freedesktop/systemd1/notify/123"}) == "@/org/freedesktop/systemd1/notify/123"
    for bad in ({}, {"NOTIFY_SOCKET": ""}, {"NOTIFY_SOCKET": "@"}, {"NOTIFY_SOCKET": "relative.sock"},
                {"NOTIFY_SOCKET": "vsock:2:1234"}):
        assert notify_socket(bad) is None, bad


@pytest.mark.parametrize("environ, expected", [
    ({"WATCHDOG_USEC": "2000000"}, 1.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, 15.0),
    ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"}, None),  # another process's watchdog
    ({"WATCHDOG_USEC": "0"}, None),
    ({"WATCHDOG_USEC": "soon"}, None),
    ({}, None),
])
def test_watchdog_interval(environ, expected):
    assert watchdog_interval_s(environ, pid=4242) == expected


def test_status_line_is_one_line_naming_the_stall():
    v = NotifyView(state="recording", health="error", error="stalled: inference;\ncamera lost", session_id="box-1",
                   fps=29.96, camera="lost", stalled=("inference",))
    assert status_line(v) == "recording, error (stalled: inference; camera lost), session box-1, 30.0 fps, camera lost"
    idle = NotifyView(state="idle", health="ok", error=None, session_id=None, fps=0.0, camera="absent")
    assert status_line(idle) == "idle, ok, no session, 0.0 fps, camera absent"
    # a stall the health text does not name yet is named all the same
    assert "(stalled: control-loop)" in status_line(NotifyView("idle", "error", None, None, 0.0, "ok", ("control-loop",)))


@pytest.mark.parametrize("abstract", [False, True])
def test_datagram_reaches_a_real_socket(tmp_path, abstract):
    address = f"@agma-test-{uuid.uuid4().hex}" if abstract else str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(b"\0" + address[1:].encode() if abstract else address)
    receiver.settimeout(10)
    sender = DatagramTransport(address)
    try:
        sender.send("READY=1\nSTATUS=idle")
        assert receiver.recv(4096) == b"READY=1\nSTATUS=idle"
    finally:
        sender.close()
        receiver.close()
    if not abstract:
        os.unlink(address)
        gone = DatagramTransport(address)
        try:
            with pytest.raises(OSError):  # nobody listens any more: the caller counts it, nothing blocks
                gone.send("WATCHDOG=1")
        finally:
            gone.close()


def test_syslog_priorities():
    import logging

    assert [syslog_priority(x) for x in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR,
                                         logging.CRITICAL)] == [7, 6, 4, 3, 2]
