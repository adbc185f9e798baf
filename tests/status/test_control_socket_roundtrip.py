"""A request through the real socket reaches submit() as a Command and its answer comes back as one line.

The runtime's submit is faked (it is the caller's side); everything between a client and it is
real: the socket file, the server's loop and workers, the parser, the encoder, the client.
"""
from __future__ import annotations

import math
import socket

from appliance.status.commands import Command
from appliance.status.control_socket import request
from tests.status.sockets import RecordingSubmit, connected, read_lines, read_to_eof, serving


def test_request_reaches_submit_and_its_answer_returns(sock_dir):
    """The command arrives exactly as sent (origin "socket"), the answer gets the request id and NaN as null."""
    submit = RecordingSubmit(lambda cmd: {"ok": True, "session_id": "agma-dev-1", "fps": math.nan})
    path = sock_dir / "agma.sock"
    with serving(path, submit):
        answer = request(path, {"action": "start", "bed_label": "NICU 3", "request_id": "r1", "sent_at": 12.5})
        assert answer == {"ok": True, "session_id": "agma-dev-1", "fps": None, "request_id": "r1"}
        assert request(path, {"action": "status"}) == {"ok": True, "session_id": "agma-dev-1", "fps": None}
    assert submit.commands == [Command("start", "r1", "NICU 3", 12.5, "socket"), Command("status", None, None, None)]


def test_pipelined_lines_are_answered_in_order_then_closed_at_eof(sock_dir):
    """Several lines written at once get their answers in order, one per line; a last line without its
    newline still counts once the client half-closes (``printf ... | nc -U``), and then the server closes."""
    submit = RecordingSubmit(lambda cmd: {"ok": True, "echo": cmd.request_id})
    path = sock_dir / "agma.sock"
    with serving(path, submit), connected(path) as sock:
        lines = [b'{"action":"status","request_id":"%d"}' % i for i in range(20)]
        sock.sendall(b"\n".join(lines[:10]) + b"\r\n" + b"\n".join(lines[10:]))  # CRLF accepted too
        sock.shutdown(socket.SHUT_WR)  #: nothing more to send, answers still to read
        answers = [line for line in read_to_eof(sock).split(b"\n") if line]
    assert [a for a in answers] == [b'{"ok":true,"echo":"%d","request_id":"%d"}' % (i, i) for i in range(20)]
    assert [c.request_id for c in submit.commands] == [str(i) for i in range(20)]


def test_submit_answer_keeps_its_own_request_id(sock_dir):
    """When the runtime's answer already names a request id, it is not overwritten."""
    path = sock_dir / "agma.sock"
    with serving(path, RecordingSubmit(lambda cmd: {"ok": False, "error": "already recording x", "request_id": "own"})):
        with connected(path) as sock:
            sock.sendall(b'{"action":"start","request_id":"r2"}\n')
            assert read_lines(sock, 1) == [{"ok": False, "error": "already recording x", "request_id": "own"}]
