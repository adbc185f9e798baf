"""The socket file has mode 0660 (the configured mode, whatever the umask) and the configured group;
an unknown group is a configuration error naming the key, and nothing is bound."""
from __future__ import annotations

import os
import stat

import pytest

from appliance.errors import ConfigError
from appliance.status.control_socket import ControlServer
from tests.status.sockets import NOGROUP_GID, RecordingSubmit, serving


def test_mode_0660_despite_umask(sock_dir):
    path = sock_dir / "agma.sock"
    old = os.umask(0o000)  # the most permissive umask: the socket must still be 0660, never 0777
    try:
        with serving(path, RecordingSubmit()):
            st = os.stat(path)
            assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    finally:
        os.umask(old)
    with serving(path, RecordingSubmit(), mode=0o600):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another group needs root or membership")
def test_group_is_applied(sock_dir):
    path = sock_dir / "agma.sock"
    with serving(path, RecordingSubmit(), group="nogroup"):
        assert os.stat(path).st_gid == NOGROUP_GID
    with serving(path, RecordingSubmit(), group=str(NOGROUP_GID)):  # a number works too
        assert os.stat(path).st_gid == NOGROUP_GID


def test_unknown_group_is_a_config_error(sock_dir):
    path = sock_dir / "agma.sock"
    server = ControlServer(path, RecordingSubmit(), group="no-such-group-agma")
    with pytest.raises(ConfigError) as exc:
        server.start()
    assert exc.value.key == "daemon.socket_group" and "no group named 'no-such-group-agma'" in str(exc.value)
    assert "\n" not in str(exc.value) and not path.exists()
