"""A socket file left by a dead daemon (nobody listening) is removed and rebound at start; a path that
is not a socket is never removed."""
from __future__ import annotations

import logging
import os
import socket
import stat

import pytest

from appliance.errors import AgmaError
from appliance.status.control_socket import ControlServer, request
from tests.status.sockets import RecordingSubmit, serving


def _dead_daemons_socket(path) -> None:
    """What a SIGKILLed daemon leaves: a bound socket file with no listener behind it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(os.fspath(path))
    sock.listen(1)
    sock.close()  # closing does not remove the file
    with pytest.raises(ConnectionRefusedError):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(os.fspath(path))
        finally:
            probe.close()


def test_stale_socket_is_unlinked_and_rebound(sock_dir, caplog):
    """(The inode cannot tell old from new: the filesystem reuses a freed one. A listener answering can.)"""
    path = sock_dir / "agma.sock"
    _dead_daemons_socket(path)
    caplog.set_level(logging.INFO, logger="appliance.status.control_socket")
    with serving(path, RecordingSubmit()):
        assert stat.S_ISSOCK(os.stat(path).st_mode)
        assert f"removed a stale control socket at {path}" in caplog.text
        assert request(path, {"action": "status"}) == {"ok": True, "action": "status"}
    assert not path.exists()


def test_a_file_that_is_not_a_socket_is_left_alone(sock_dir):
    path = sock_dir / "agma.sock"
    path.write_text("someone's file\n")
    server = ControlServer(path, RecordingSubmit())
    with pytest.raises(AgmaError, match="exists and is not a socket"):
        server.start()
    server.stop()
    assert path.read_text() == "someone's file\n"
