"""Nothing one client does stops the server serving the next: a client that vanishes while its command
is in flight, a client that resets the connection, and more clients at once than the server serves
(the extra one is told so and closed, never queued without bound)."""
from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading

from appliance.status.control_socket import ControlServer, request
from tests.helpers import DEADLINE_S, wait_until
from tests.status.sockets import connected, read_lines, read_to_eof, serving


def test_client_gone_before_its_answer(sock_dir):
    entered, release = threading.Event(), threading.Event()
    calls = []

    def submit(cmd):
        calls.append(cmd.request_id)
        if cmd.request_id == "gone":
            entered.set()
            release.wait(DEADLINE_S)
        return {"ok": True}

    path = sock_dir / "agma.sock"
    with serving(path, submit):
        try:
            with connected(path) as sock:
                sock.sendall(b'{"action":"stop","request_id":"gone"}\n')
                assert entered.wait(DEADLINE_S)
            release.set()  # its answer now goes to a closed connection
            with connected(path) as sock:  # a reset (SO_LINGER 0) with unread data the other way
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.sendall(b'{"action":"status","request_id":"reset"}\n')
            assert request(path, {"action": "status", "request_id": "after"}) == {"ok": True, "request_id": "after"}
        finally:
            release.set()
    assert calls[0] == "gone" and calls[-1] == "after"


def test_one_connection_too_many(sock_dir):
    path = sock_dir / "agma.sock"
    with serving(path, lambda cmd: {"ok": True}) as server:
        with contextlib.ExitStack() as stack:
            socks = [stack.enter_context(connected(path)) for _ in range(ControlServer.MAX_CONNECTIONS)]
            for sock in socks:  # each admitted: it answers
                sock.sendall(b'{"action":"status"}\n')
                assert read_lines(sock, 1) == [{"ok": True}]
            with connected(path) as extra:
                assert json.loads(read_to_eof(extra)) == {
                    "ok": False, "error": f"too many connections to the control socket ({server.MAX_CONNECTIONS}); try again"}
        # The slots are free again once the server has seen those clients close (their EOFs may come
        # in the same turn as the next connection, so wait for that state).
        wait_until(lambda: request(path, {"action": "status"}) == {"ok": True}, "a free connection slot")
