"""systemd's side of `agma daemon`: the notify protocol (sd_notify(3)) and the journal.

The one module that imports systemd (systemd-python, the optional ``systemd`` extra:
``pip install 'agma-appliance[systemd]'``; it is built from source and needs libsystemd-dev,
pkg-config and a C compiler). Without it everything here still works by hand:

- notify: one AF_UNIX datagram per message to ``$NOTIFY_SOCKET`` (a path, or ``@name`` for an
  abstract address), sent without blocking (a full receiver drops the message, counted) — the
  protocol libsystemd's ``sd_notify`` speaks. With systemd-python, ``systemd.daemon.notify``
  sends it. The tests exercise the hand path (the test extra does not build systemd-python);
- journal: when ``$JOURNAL_STREAM`` (``device:inode``) names our stderr or stdout, the journal is
  reading it: with systemd-python, logging goes through ``systemd.journal.JournalHandler``
  (structured fields, SYSLOG_IDENTIFIER=agma); without it, each line goes to that stream with the
  ``<N>`` syslog-priority prefix journald understands (sd-daemon(3)) and no timestamp of ours
  (the journal keeps its own). Elsewhere (a terminal, a pipe, a container) logging stays on
  stderr as the cli set it up.

``SystemdNotifier`` is a status sink owned by the runtime (runtime/factories.py ``systemd_sink``,
created only when ``$NOTIFY_SOCKET`` is set; thread ``systemd-notify``):

- ``READY=1`` (with the first ``STATUS=``) from ``start()``, which the runtime calls once the
  config, the store, the other status sinks and the control socket are up — never waiting for the
  camera: a box that boots without its camera must not start-loop; its camera's state is in
  ``STATUS=``, MQTT and the LED;
- ``WATCHDOG=1`` every half of ``$WATCHDOG_USEC`` (when ``$WATCHDOG_PID`` is unset or this
  process), only while the view says no stage is stalled (the supervisor's judgement,
  runtime/health.py: a hung inference or writer stops the pings once its heartbeat is older than
  supervisor.stall_after_s; an absent camera or an unreachable broker are conditions and do not);
- ``STATUS=`` one line when it changes (looked at every second at most): state, health, session,
  fps, camera, and the stalled stage when there is one;
- ``STOPPING=1`` from ``stopping()`` (the daemon's SIGTERM/SIGINT handler), or from ``stop()`` at
  the latest; no ``WATCHDOG=1`` after it (systemd stops the watchdog when the service stops).
"""
from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENV_NOTIFY_SOCKET = "NOTIFY_SOCKET"
ENV_WATCHDOG_USEC = "WATCHDOG_USEC"
ENV_WATCHDOG_PID = "WATCHDOG_PID"
ENV_JOURNAL_STREAM = "JOURNAL_STREAM"
#: How often the STATUS= line is looked at (and the watchdog's due time, when it is sooner), seconds.
STATUS_TICK_S = 1.0
#: The longest STATUS= line sent (systemctl status shows one line).
MAX_STATUS_CHARS = 400


def notify_socket(environ: Mapping[str, str]) -> str | None:
    """$NOTIFY_SOCKET when it names a socket (a path or ``@abstract``), else None."""
    address = environ.get(ENV_NOTIFY_SOCKET, "")
    return address if address.startswith(("/", "@")) and len(address) > 1 else None


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """Half of $WATCHDOG_USEC in seconds when the watchdog is on for ``pid`` (sd_watchdog_enabled(3):
    $WATCHDOG_PID unset or equal), else None."""
    text = environ.get(ENV_WATCHDOG_USEC, "")
    owner = environ.get(ENV_WATCHDOG_PID, "")
    try:
        usec = int(text)
        if owner and int(owner) != pid:
            return None
    except ValueError:
        return None
    return usec / 2e6 if usec > 0 else None


@dataclass(frozen=True)
class NotifyView:
    """The box as the notifier reports it (runtime/factories.py builds it from the Health snapshot).

    stalled: the stages judged stalled (empty: every present stage progresses); error: the health's
    text (names a stalled stage)."""

    state: str
    health: str
    error: str | None
    session_id: str | None
    fps: float
    camera: str
    stalled: tuple[str, ...] = ()


def status_line(v: NotifyView) -> str:
    """The STATUS= text: state, health (why), session, fps, camera; one line."""
    health = v.health
    why = v.error or ""
    if v.stalled and "stalled" not in why:
        why = "; ".join(filter(None, [f"stalled: {', '.join(v.stalled)}", why]))
    if why:
        health += f" ({why})"
    session = f"session {v.session_id}" if v.session_id else "no session"
    line = f"{v.state}, {health}, {session}, {v.fps:.1f} fps, camera {v.camera}"
    line = " ".join(line.split())  # one line, whatever an error's text held
    return line if len(line) <= MAX_STATUS_CHARS else line[:MAX_STATUS_CHARS - 1] + "…"


# ---- the transports ----

class DatagramTransport:
    """The notify protocol by hand: one datagram per message, never blocking."""

    kind = "datagram"

    def __init__(self, address: str) -> None:
        self.address = address
        self._to = b"\0" + os.fsencode(address[1:]) if address.startswith("@") else os.fsencode(address)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # non-inheritable (CLOEXEC)
        self._flags = socket.MSG_DONTWAIT | getattr(socket, "MSG_NOSIGNAL", 0)

    def send(self, text: str) -> None:
        """Raises OSError when the message could not be handed to the socket."""
        self._sock.sendto(text.encode("utf-8"), self._flags, self._to)

    def close(self) -> None:
        self._sock.close()


class SystemdPythonTransport:
    """systemd-python's ``systemd.daemon.notify`` (it reads $NOTIFY_SOCKET itself)."""

    kind = "systemd-python"

    def __init__(self, notify: Callable[..., Any], address: str) -> None:
        self._notify, self.address = notify, address

    def send(self, text: str) -> None:
        if not self._notify(text):
            raise OSError(f"systemd.daemon.notify did not send {text.split('=', 1)[0]}")

    def close(self) -> None:
        pass


def open_transport(address: str):
    """systemd-python's notify when that package is importable, else the datagram by hand."""
    try:
        from systemd import daemon  # systemd-python (the `systemd` extra); lazily, here only
        notify, _booted = daemon.notify, daemon.booted  # another package named systemd lacks booted()
    except (ImportError, AttributeError):
        return DatagramTransport(address)
    return SystemdPythonTransport(notify, address)


# ---- the sink ----

class SystemdNotifier:
    """See the module's doc. ``start()``, ``stopping()``, ``stop(timeout_s)``, ``threads()``."""

    name = "systemd-notify"

    def __init__(self, address: str, view: Callable[[], NotifyView], watchdog_s: float | None,
                 transport=None) -> None:
        self.address, self._view, self.watchdog_s = address, view, watchdog_s
        self._transport = transport if transport is not None else open_transport(address)
        self._lock = threading.RLock()  # RLock: stopping() may run in a signal handler of a thread inside it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._last_status: str | None = None
        self._next_ping = 0.0
        self._failed_logged = False
        #: counts, for the runtime's logs and tests: messages sent, pings sent, pings withheld (stalled), failures
        self.sent = self.pings = self.withheld = self.failures = 0

    def start(self) -> None:
        line = status_line(self._view())
        with self._lock:
            self._send(f"READY=1\nSTATUS={line}")
            self._last_status = line
            self._next_ping = time.monotonic()  # the first ping with the thread's first turn
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=False)
        self._thread.start()
        if self.watchdog_s is not None:
            log.info("systemd: READY=1 sent to %s (%s); watchdog ping every %.3f s while no stage is stalled",
                     self.address, self._transport.kind, self.watchdog_s)
        else:
            log.info("systemd: READY=1 sent to %s (%s); no watchdog", self.address, self._transport.kind)

    def stopping(self) -> None:
        """STOPPING=1, once: the daemon begins its shutdown (its signal handler calls this). No ping after it."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._send("STOPPING=1")

    def stop(self, timeout_s: float = 2.0) -> None:
        self.stopping()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("systemd: the notify thread did not end within %.1f s", timeout_s)
                return
        self._transport.close()

    def threads(self) -> tuple[threading.Thread, ...]:
        return (self._thread,) if self._thread is not None else ()

    # ---- the notify thread ----

    def _run(self) -> None:
        while True:
            try:
                self.turn(time.monotonic())
            except Exception as exc:  # a broken view must not end the pings' judge silently
                log.error("systemd: %s: %s", type(exc).__name__, exc)
            with self._lock:
                due = self._next_ping if self.watchdog_s is not None else float("inf")
            wait = min(STATUS_TICK_S, max(0.0, due - time.monotonic()))
            if self._stop.wait(wait):
                return

    def turn(self, now: float) -> None:
        """One look at the box: STATUS= when the line changed, WATCHDOG=1 when due and nothing is stalled."""
        v = self._view()
        line = status_line(v)
        with self._lock:
            if line != self._last_status:
                self._send(f"STATUS={line}")
                self._last_status = line
            if self.watchdog_s is None or now < self._next_ping:
                return
            self._next_ping += self.watchdog_s  # on schedule; a late turn does not shift the next ones...
            if self._next_ping <= now:  # ...unless it was later than a whole interval
                self._next_ping = now + self.watchdog_s
            if self._stopping:
                return
            if v.stalled:
                self.withheld += 1
                return
            if self._send("WATCHDOG=1"):
                self.pings += 1

    def _send(self, text: str) -> bool:
        try:
            self._transport.send(text)
        except OSError as exc:
            self.failures += 1
            if not self._failed_logged:  # once: systemd gone means nobody reads these anyway
                self._failed_logged = True
                log.warning("systemd: cannot notify %s (%s); further failures are only counted", self.address, exc)
            return False
        self.sent += 1
        return True


# ---- the journal ----

#: logging level -> syslog priority (sd-daemon(3)'s <N> prefixes).
_PRIORITIES = ((logging.DEBUG, 7), (logging.INFO, 6), (logging.WARNING, 4), (logging.ERROR, 3), (logging.CRITICAL, 2))


def syslog_priority(levelno: int) -> int:
    for level, priority in _PRIORITIES:
        if levelno <= level:
            return priority
    return 1


class PriorityPrefixFormatter(logging.Formatter):
    """Each line of a record prefixed ``<N>`` (its syslog priority), so journald files it at that
    priority; no timestamp (the journal has its own)."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines() or [""])


def journal_stream(environ: Mapping[str, str], streams=None):
    """The stream among ``streams`` (default stderr, stdout) that $JOURNAL_STREAM names, else None."""
    device, sep, inode = environ.get(ENV_JOURNAL_STREAM, "").partition(":")
    if not sep:
        return None
    try:
        want = (int(device), int(inode))
    except ValueError:
        return None
    for stream in streams if streams is not None else (sys.stderr, sys.stdout):
        try:
            st = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):
            continue
        if (st.st_dev, st.st_ino) == want:
            return stream
    return None


def log_to_journal(environ: Mapping[str, str] | None = None, streams=None) -> str | None:
    """Route the root logger to the journal when $JOURNAL_STREAM says it reads our stderr or stdout
    (its level kept). -> "journal" (systemd-python's JournalHandler), "prefixed" (``<N>`` lines on
    that stream), or None (not under the journal: nothing changed)."""
    stream = journal_stream(os.environ if environ is None else environ, streams)
    if stream is None:
        return None
    try:
        from systemd.journal import JournalHandler  # systemd-python (the `systemd` extra)

        handler, how = JournalHandler(SYSLOG_IDENTIFIER="agma"), "journal"
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    except (ImportError, AttributeError, TypeError, ValueError):
        handler, how = logging.StreamHandler(stream), "prefixed"
        handler.setFormatter(PriorityPrefixFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    return how
