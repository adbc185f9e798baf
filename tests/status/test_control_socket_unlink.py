"""stop() removes the socket file, but only its own: a file another daemon bound there since is kept."""
from __future__ import annotations

import os
import socket

import pytest

from appliance.status.control_socket import ControlServer, DaemonNotRunning, request
from tests.status.sockets import RecordingSubmit


def test_socket_unlinked_after_stop(sock_dir):
    path = sock_dir / "agma.sock"
    server = ControlServer(path, RecordingSubmit())
    server.start()
    try:
        assert path.exists()
        assert not [p for p in sock_dir.iterdir() if p.name != "agma.sock"]  # no temporary name left behind
    finally:
        server.stop()
    assert not path.exists()
    with pytest.raises(DaemonNotRunning, match=r"the daemon is not running \(no control socket at "):
        request(path, {"action": "status"})
    server.stop()  # twice: a no-op


def test_a_replaced_socket_is_not_ours_to_remove(sock_dir):
    path = sock_dir / "agma.sock"
    server = ControlServer(path, RecordingSubmit())
    server.start()
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)  # e.g. removed by hand, and a new daemon bound the same path
        other.bind(os.fspath(path))
        inode = path.stat().st_ino
    finally:
        server.stop()
        try:
            assert path.stat().st_ino == inode
        finally:
            other.close()
