"""A command the runtime does not answer in time gets "the daemon did not answer in time": when submit
raises TimeoutError, and when submit itself hangs past answer_timeout_s (the loop answers; the late
answer is dropped; the connection and the server go on). A submit that raises anything else gets an
internal-error answer and the server keeps serving."""
from __future__ import annotations

import threading

from appliance.errors import AgmaError
from appliance.status.control_socket import request
from tests.helpers import DEADLINE_S
from tests.status.sockets import connected, read_lines, serving


def test_submit_raising_timeout(sock_dir):
    def submit(cmd):
        raise TimeoutError("queue full")

    path = sock_dir / "agma.sock"
    with serving(path, submit):
        assert request(path, {"action": "start", "request_id": "t1"}) == {
            "ok": False, "error": "the daemon did not answer in time", "request_id": "t1"}


def test_submit_hanging_past_the_answer_timeout(sock_dir):
    hang = threading.Event()
    calls = []

    def submit(cmd):
        calls.append(cmd.request_id)
        if cmd.request_id == "slow":
            hang.wait(DEADLINE_S)
            return {"ok": True, "late": True}
        return {"ok": True}

    path = sock_dir / "agma.sock"
    # 2 s: the hung submit is answered after it; the trivial ones, on idle workers, must be within it.
    with serving(path, submit, answer_timeout_s=2.0):
        try:
            with connected(path) as sock:
                sock.sendall(b'{"action":"start","request_id":"slow"}\n{"action":"status","request_id":"next"}\n')
                assert read_lines(sock, 2) == [
                    {"ok": False, "error": "the daemon did not answer in time", "request_id": "slow"},
                    {"ok": True, "request_id": "next"}]  # the next line is served by another worker
                hang.set()  # the late answer is dropped: the next thing on this connection is its own answer
                sock.sendall(b'{"action":"status","request_id":"third"}\n')
                assert read_lines(sock, 1) == [{"ok": True, "request_id": "third"}]
        finally:
            hang.set()
    assert calls == ["slow", "next", "third"]


def test_submit_raising_anything_else(sock_dir):
    def submit(cmd):
        if cmd.action == "start":
            raise AgmaError("store error: disk I/O error")
        if cmd.action == "stop":
            raise RuntimeError("bug\nin the runtime")
        return {"ok": True, "when": object()} if cmd.request_id == "odd" else {"ok": True}

    path = sock_dir / "agma.sock"
    with serving(path, submit):
        assert request(path, {"action": "start"}) == {"ok": False, "error": "store error: disk I/O error"}
        assert request(path, {"action": "stop"}) == {"ok": False, "error": "internal error: RuntimeError: bug in the runtime"}
        assert request(path, {"action": "status", "request_id": "odd"}) == {
            "ok": False, "error": "internal error: the answer could not be encoded", "request_id": "odd"}
        assert request(path, {"action": "status"}) == {"ok": True}
