"""Malformed and oversized lines are answered with an error and never reach submit(); the connection
stays usable after a malformed line, and is closed after an oversized one (nothing is buffered
without bound)."""
from __future__ import annotations

import json

from appliance.status.commands import MAX_COMMAND_BYTES
from appliance.status.control_socket import request
from tests.status.sockets import RecordingSubmit, connected, read_lines, read_to_eof, serving


def test_malformed_lines_answered_without_submit(sock_dir):
    submit = RecordingSubmit()
    path = sock_dir / "agma.sock"
    with serving(path, submit), connected(path) as sock:
        sock.sendall(b"status\n\xff\xfe\n[1]\n" + b"[" * 2000 + b"]" * 2000 + b"\n"
                     + b'{"action":"jump","request_id":"q"}\n{"action":"stop","bed_label":"NICU 3"}\n\n')
        answers = read_lines(sock, 6)
        assert [a["ok"] for a in answers] == [False] * 6
        assert "not JSON" in answers[0]["error"] and "UTF-8" in answers[1]["error"]
        assert "JSON object" in answers[2]["error"] and "deeper than 32" in answers[3]["error"]
        assert answers[4] == {"ok": False, "error": 'unknown action "jump"; known actions: start, stop, status, ack',
                              "request_id": "q"}
        assert "only accepted with start" in answers[5]["error"]
        assert submit.commands == []
        sock.sendall(b'{"action":"status"}\n')  # the same connection still obeys a valid command
        assert read_lines(sock, 1) == [{"ok": True, "action": "status"}]
    assert [c.action for c in submit.commands] == ["status"]


def test_oversized_line_answered_and_connection_closed(sock_dir):
    """A 256 KiB line without a newline: one error answer as soon as it passes 4 KiB, then EOF;
    the server stays up for the next client."""
    submit = RecordingSubmit()
    path = sock_dir / "agma.sock"
    with serving(path, submit):
        with connected(path) as sock:
            try:
                sock.sendall(b'{"action":"status","x":"' + b"a" * 256 * 1024)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server closed after its answer, before taking everything: allowed
            got = read_to_eof(sock)
        assert json.loads(got) == {"ok": False, "error": f"request line is longer than {MAX_COMMAND_BYTES} bytes; "
                                                         "closing the connection"}
        with connected(path) as sock:  # a line of exactly 4 KiB + newline is fine
            sock.sendall(b'{"action":"status"}' + b" " * (MAX_COMMAND_BYTES - 19) + b"\n")
            assert read_lines(sock, 1) == [{"ok": True, "action": "status"}]
        assert request(path, {"action": "stop"}) == {"ok": True, "action": "stop"}
    assert [c.action for c in submit.commands] == ["status", "stop"]
