"""Helpers for the control socket's tests: a recording fake of the runtime's ``submit``, a server that
always stops, a raw line client, and a client run as another user (a forked child)."""
from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from appliance.status.commands import Command
from appliance.status.control_socket import ControlServer
from tests.helpers import DEADLINE_S

NOBODY_UID = NOGROUP_GID = 65534


class RecordingSubmit:
    """The runtime's side of ``submit``, faked (it is the caller's side): records each command, answers."""

    def __init__(self, answer: Callable[[Command], Mapping] | None = None) -> None:
        self.commands: list[Command] = []
        self._lock = threading.Lock()
        self._answer = answer or (lambda cmd: {"ok": True, "action": cmd.action})

    def __call__(self, cmd: Command) -> Mapping:
        with self._lock:
            self.commands.append(cmd)
        return self._answer(cmd)


@contextlib.contextmanager
def serving(path: Path, submit: Callable[[Command], Mapping], **kw) -> Iterator[ControlServer]:
    """A started ControlServer for the ``with`` block, stopped on every way out."""
    server = ControlServer(path, submit, **kw)
    server.start()
    try:
        yield server
    finally:
        server.stop(timeout_s=DEADLINE_S)


@contextlib.contextmanager
def connected(path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(DEADLINE_S)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while True:
            try:
                sock.connect(os.fspath(path))
                break
            except BlockingIOError:  # the backlog is full for a moment: a Unix socket says so at once
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        yield sock
    finally:
        sock.close()


def read_lines(sock: socket.socket, count: int) -> list[dict]:
    """The next ``count`` answer lines, decoded; fewer when the server closes first."""
    buf = b""
    while buf.count(b"\n") < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return [json.loads(line) for line in buf.split(b"\n")[:count] if line]


def read_to_eof(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    buf = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return buf
        if not chunk:
            return buf
        buf += chunk


def as_user(uid: int, gid: int, fn: Callable[[], object]) -> dict:
    """Run ``fn()`` in a forked child that has become ``uid``/``gid`` (no supplementary groups).

    Returns {"value": <fn's JSON-able result>} or {"raised": <exception type>, "message": <text>}.
    The child always ends with os._exit (it never returns into pytest) and is reaped here, killed
    if it outlives the deadline.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            try:
                out = {"value": fn()}
            except Exception as exc:
                out = {"raised": type(exc).__name__, "message": str(exc)}
            os.write(write_fd, json.dumps(out).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + DEADLINE_S
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                raise AssertionError(f"the child running as uid {uid} gave no result within {DEADLINE_S:.0f} s")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(read_fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if not data:
        raise AssertionError(f"the child could not become uid {uid} gid {gid}")
    return json.loads(data)
