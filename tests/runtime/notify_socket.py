"""A real systemd notify socket for tests: an AF_UNIX datagram socket the daemon under test sends to.

``NotifySocket`` binds a path (or an abstract ``@name``), receives every datagram in a thread and
keeps each message line with the kernel's receive timestamp (SO_TIMESTAMPNS: when the datagram
reached the socket, on the wall clock; not when this busy test process got round to reading it).
``env`` is what a daemon needs to send there (NOTIFY_SOCKET, and WATCHDOG_USEC when asked).
"""
from __future__ import annotations

import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import DEADLINE_S

#: Linux's SO_TIMESTAMPNS (asm-generic: x86-64 and arm64), which the socket module does not name;
#: its control message carries a struct timespec (two 64-bit fields).
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


@dataclass(frozen=True)
class Message:
    """One line of a datagram: ``READY=1``, ``WATCHDOG=1``, ``STATUS=...``; t_s: wall-clock seconds it arrived."""

    line: str
    t_s: float

    @property
    def key(self) -> str:
        return self.line.split("=", 1)[0]

    @property
    def value(self) -> str:
        return self.line.split("=", 1)[1] if "=" in self.line else ""


class NotifySocket:
    """See the module's doc. Use as a context manager; ``close()`` ends the reader and removes the path."""

    def __init__(self, folder: Path | None = None, abstract: bool = False) -> None:
        if abstract:
            self.address = f"@agma-test-{uuid.uuid4().hex}"
            bind_to: str | bytes = b"\0" + self.address[1:].encode()
            self.path = None
        else:
            self.path = Path(folder) / "notify.sock"
            self.address = bind_to = str(self.path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self._sock.bind(bind_to)
        self._sock.settimeout(0.2)
        self.messages: list[Message] = []
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._read, name="test-notify-socket", daemon=True)
        self._thread.start()

    def env(self, watchdog_usec: int | None = None) -> dict:
        env = {"NOTIFY_SOCKET": self.address}
        if watchdog_usec is not None:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        return env

    def _read(self) -> None:
        while not self._closed.is_set():
            try:
                data, ancdata, _flags, _addr = self._sock.recvmsg(4096, socket.CMSG_SPACE(16))
            except socket.timeout:
                continue
            except OSError:
                return
            t_s = time.time()
            for level, kind, cdata in ancdata:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(cdata) >= 16:
                    sec, nsec = struct.unpack("qq", cdata[:16])
                    t_s = sec + nsec / 1e9
            with self._changed:
                self.messages += [Message(line, t_s) for line in data.decode("utf-8").split("\n") if line]
                self._changed.notify_all()

    def snapshot(self) -> list[Message]:
        with self._changed:
            return list(self.messages)

    def lines(self, key: str) -> list[Message]:
        return [m for m in self.snapshot() if m.key == key]

    def wait_for(self, check: Callable[[list[Message]], object], what: str, timeout: float = DEADLINE_S, proc=None):
        """The first truthy ``check(messages so far)``; AssertionError naming ``what`` after ``timeout``
        s, or once ``proc`` (the daemon) has exited without bringing it about."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = check(list(self.messages))
                if got:
                    return got
                if proc is not None and proc.poll() is not None:
                    raise AssertionError(f"{what}: the daemon exited ({proc.returncode}) first; "
                                         f"messages: {[m.line for m in self.messages]}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: not within {timeout:.0f} s; messages: "
                                         f"{[m.line for m in self.messages]}")
                self._changed.wait(min(left, 0.5))

    def close(self) -> None:
        self._closed.set()
        self._thread.join(DEADLINE_S)
        self._sock.close()
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "NotifySocket":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def index_of(messages: list[Message], key: str, start: int = 0) -> int:
    """The index of the first message with ``key`` from ``start`` on; -1 when none."""
    return next((i for i, m in enumerate(messages) if i >= start and m.key == key), -1)
