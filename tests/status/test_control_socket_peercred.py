"""Who may use the socket (SO_PEERCRED): root, the daemon's own user, members of daemon.socket_group.

Run for real with a client that is another user: a forked child that became nobody (uid 65534,
gid nogroup 65534). The socket's mode is 0666 in the SO_PEERCRED tests so that the kernel's file
permission lets the child reach the peer check at all; with 0660 the file permission is the first
gate and the client is told so.
"""
from __future__ import annotations

import os

import pytest

from appliance.status.control_socket import peer_refusal, request
from tests.status.sockets import NOBODY_UID, NOGROUP_GID, RecordingSubmit, as_user, serving

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="running a client as another uid needs root")


def _status_as_nobody(path):
    return as_user(NOBODY_UID, NOGROUP_GID, lambda: request(path, {"action": "status"}, timeout_s=60.0))


@needs_root
def test_other_user_refused_when_not_in_the_group(sock_dir):
    submit = RecordingSubmit()
    path = sock_dir / "agma.sock"
    with serving(path, submit, mode=0o666):  # no group: only root and the daemon's user
        got = _status_as_nobody(path)
        assert got == {"value": {"ok": False, "error": "permission denied: uid 65534 (nobody) is neither root nor "
                                                        "the daemon's user (no socket group is configured)"}}
        assert request(path, {"action": "status"}) == {"ok": True, "action": "status"}  # root still may
    with serving(path, submit, mode=0o666, group="root"):
        got = _status_as_nobody(path)["value"]
        assert got["ok"] is False and "nor in group 'root'" in got["error"]
    assert len(submit.commands) == 1  # only root's status reached submit


@needs_root
def test_other_user_allowed_when_the_group_is_its_gid(sock_dir):
    submit = RecordingSubmit()
    path = sock_dir / "agma.sock"
    with serving(path, submit, group="nogroup"):  # 0660, group nogroup: the file lets it in, so does the check
        assert _status_as_nobody(path) == {"value": {"ok": True, "action": "status"}}
    assert [c.action for c in submit.commands] == ["status"]


@needs_root
def test_file_permission_refuses_first(sock_dir):
    """0660 owned by root:root: the kernel refuses nobody's connect (EACCES), and the client says why."""
    submit = RecordingSubmit()
    path = sock_dir / "agma.sock"
    with serving(path, submit):
        got = _status_as_nobody(path)
    assert got["raised"] == "AgmaError" and got["message"].startswith(f"permission denied on the control socket {path}")
    assert submit.commands == []


def test_peer_rule():
    """The rule itself, pure: including membership by the group's member list (a supplementary group)."""
    def allowed(uid, gid, **kw):
        kw.setdefault("own_uid", 1000)
        kw.setdefault("group_name", "agma")
        kw.setdefault("group_gid", None)
        return peer_refusal(uid, gid, **kw) is None
    assert allowed(0, 0) and allowed(1000, 1000) and allowed(0, 5, group_gid=77)
    assert not allowed(1001, 1001) and not allowed(1001, 77)  # no group configured: a gid means nothing
    assert allowed(1001, 77, group_gid=77)                    # primary group
    assert allowed(1001, 1001, group_gid=77, group_members=("nurse", "ward"), user_name="ward")
    assert not allowed(1001, 1001, group_gid=77, group_members=("nurse",), user_name="ward")
    assert not allowed(1001, 1001, group_gid=77, group_members=("nurse",), user_name=None)
    reason = peer_refusal(1001, 1001, own_uid=1000, group_name="agma", group_gid=77, user_name="ward")
    assert reason == "permission denied: uid 1001 (ward) is neither root, the daemon's user nor in group 'agma'"
