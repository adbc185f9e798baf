"""The client side, request(): no daemon is one clear error (DaemonNotRunning), whether the socket file
is missing or left behind by a dead daemon; a daemon that never answers is a timeout, not a hang."""
from __future__ import annotations

import os
import socket

import pytest

from appliance.errors import AgmaError
from appliance.status.control_socket import DaemonNotRunning, request


def test_no_socket_file(sock_dir):
    path = sock_dir / "agma.sock"
    with pytest.raises(DaemonNotRunning) as exc:
        request(path, {"action": "status"})
    assert isinstance(exc.value, AgmaError) and str(exc.value) == f"the daemon is not running (no control socket at {path})"


def test_stale_socket_file(sock_dir):
    path = sock_dir / "agma.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(os.fspath(path))
    dead.close()
    with pytest.raises(DaemonNotRunning):
        request(path, {"action": "status"})


def test_silent_listener_times_out(sock_dir):
    """Something listens but never answers (a wedged daemon): the client gives up after its timeout."""
    path = sock_dir / "agma.sock"
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    mute.bind(os.fspath(path))
    mute.listen(1)
    try:
        with pytest.raises(AgmaError, match="did not answer within 0.3 s"):
            request(path, {"action": "status"}, timeout_s=0.3)
    finally:
        mute.close()
