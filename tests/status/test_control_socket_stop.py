"""stop() is prompt with a client connected and idle: the loop never blocks in accept() or recv(), so
it needs no close() to wake it; every thread it started is joined (none left behind, none daemon),
the client sees the connection end, and the loop's heartbeat moved while it ran."""
from __future__ import annotations

import threading
import time

from appliance.status.control_socket import ControlServer
from tests.helpers import DEADLINE_S, wait_until
from tests.status.sockets import RecordingSubmit, connected, read_lines, read_to_eof


def test_stop_with_an_idle_client(sock_dir):
    path = sock_dir / "agma.sock"
    server = ControlServer(path, RecordingSubmit())
    server.start()
    try:
        threads = server.threads
        assert {t.name for t in threads} == {"control-socket", *(f"control-socket-worker-{i}" for i in range(4))}
        assert not any(t.daemon for t in threads)
        with connected(path) as idle, connected(path) as other:
            other.sendall(b'{"action":"status"}\n')
            assert read_lines(other, 1) == [{"ok": True, "action": "status"}]  # both admitted and served
            first = server.heartbeat
            wait_until(lambda: server.heartbeat > first, "the loop's heartbeat to move")
            server.stop(timeout_s=DEADLINE_S)
            assert not any(t.is_alive() for t in threads)  # joined, not given up on after the timeout
            assert read_to_eof(idle) == b"" and read_to_eof(other) == b""
    finally:
        server.stop()
    assert not path.exists()
    assert not [t for t in threading.enumerate() if t.name.startswith("control-socket")]


def test_stop_answers_a_command_in_flight(sock_dir):
    """A client waiting for its answer when the daemon stops is told so, not left hanging."""
    entered, release = threading.Event(), threading.Event()

    def slow(cmd):
        entered.set()
        release.wait(DEADLINE_S)
        return {"ok": True}

    path = sock_dir / "agma.sock"
    server = ControlServer(path, slow)
    server.start()
    try:
        with connected(path) as sock:
            sock.sendall(b'{"action":"start","request_id":"r"}\n')
            assert entered.wait(DEADLINE_S)
            t0 = time.monotonic()
            stopper = threading.Thread(target=server.stop, kwargs={"timeout_s": DEADLINE_S})
            stopper.start()
            assert read_lines(sock, 1) == [{"ok": False, "error": "the daemon is stopping", "request_id": "r"}]
            release.set()  # the worker's submit returns; stop() joins it
            stopper.join(DEADLINE_S)
            assert not stopper.is_alive() and time.monotonic() - t0 < DEADLINE_S
    finally:
        release.set()
        server.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("control-socket")]
