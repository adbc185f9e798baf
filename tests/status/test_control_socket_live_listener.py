"""A second daemon on the same socket path is refused while the first listens, and the first keeps
its socket (nothing unlinked, still answering)."""
from __future__ import annotations

import pytest

from appliance.errors import AgmaError
from appliance.status.control_socket import ControlServer, request
from tests.status.sockets import RecordingSubmit, serving


def test_live_listener_is_refused(sock_dir):
    path = sock_dir / "agma.sock"
    first = RecordingSubmit(lambda cmd: {"ok": True, "who": "first"})
    with serving(path, first):
        inode = path.stat().st_ino
        second = ControlServer(path, RecordingSubmit(lambda cmd: {"ok": True, "who": "second"}))
        with pytest.raises(AgmaError) as exc:
            second.start()
        assert str(exc.value) == f"another daemon is listening on {path}"
        second.stop()  # a server that never started stops as a no-op, and removes nothing
        assert path.stat().st_ino == inode
        assert request(path, {"action": "status"}) == {"ok": True, "who": "first"}
    assert len(first.commands) == 1
