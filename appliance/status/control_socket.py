"""The local control socket: a Unix stream socket, one JSON request per line, one JSON answer per line.

``agma start|stop|status`` talk to the daemon through it (``request``). The daemon's side is
``ControlServer``: it parses each line with ``status.commands.parse_command`` and hands a valid
command to ``submit`` (the runtime's: it enqueues the command and waits for its answer); a refused
line is answered here and never reaches ``submit``.

Threads (named, non-daemon, all joined by ``stop()``):
  - ``control-socket``: the only thread that touches sockets. One ``selectors`` loop accepts,
    checks each peer, reads lines, writes answers and closes; it never blocks (every socket is
    non-blocking), so ``stop()`` is prompt and ``heartbeat`` (the loop's last turn, read by the
    supervisor) keeps moving whatever a client does.
  - ``control-socket-worker-N`` (``WORKERS`` of them): call ``submit`` and hand the encoded answer
    back to the loop, which wakes on a socketpair. A ``submit`` that takes longer than
    ``answer_timeout_s`` is answered by the loop itself ("the daemon did not answer in time"); its
    late answer is dropped, and a command still queued by then is never submitted.

Each connection has at most one command in flight; while it has, the loop stops reading from it
(the kernel's buffer holds the next lines), so answers come back in order and nothing is buffered
without bound: a line may be ``MAX_COMMAND_BYTES`` long (longer: an error answer, then the
connection is closed), pending answers at most ``OUTPUT_LIMIT_BYTES``.

Who may connect: the socket file's mode (0660) and group are the first gate; ``SO_PEERCRED`` is
the second: root, the daemon's own user, and members of ``group`` (the peer's primary gid is the
group's, or its user is in the group's member list). Anyone else gets one "permission denied"
answer and is closed.

The socket path: a file left by a dead daemon (a socket nobody listens on) is removed and
rebound at ``start()``; a live listener there is refused ("another daemon is listening on PATH").
The socket is bound under a temporary name, given its mode and group, then renamed into place,
so it is never reachable with the umask's permissions. ``stop()`` removes it, if it is still ours.
"""
from __future__ import annotations

import grp
import json
import logging
import os
import pwd
import queue
import selectors
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import AgmaError, ConfigError
from .commands import MAX_COMMAND_BYTES, Command, CommandError, encode_answer, parse_command

log = logging.getLogger(__name__)

#: Longest path a Unix socket can be bound to, in bytes (sun_path is 108 bytes with its NUL).
MAX_SOCKET_PATH_BYTES = 107
TIMEOUT_ANSWER = "the daemon did not answer in time"
STOPPING_ANSWER = "the daemon is stopping"
#: The largest answer the client accepts (a status document is well under 2 KiB).
MAX_ANSWER_BYTES = 1 << 20
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class DaemonNotRunning(AgmaError):
    """No daemon listens on the control socket (no socket file, or nobody behind it)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        super().__init__(f"the daemon is not running (no control socket at {self.path})")


def peer_refusal(uid: int, gid: int, *, own_uid: int, group_name: str, group_gid: int | None,
                 group_members: tuple[str, ...] = (), user_name: str | None = None) -> str | None:
    """Why a peer with ``uid``/``gid`` may not use the socket, or None when it may. Pure.

    Allowed: root, the daemon's own uid, and, when a group is configured (``group_gid`` not None),
    a peer whose primary gid is the group's or whose user name is in its member list.
    """
    if uid == 0 or uid == own_uid:
        return None
    if group_gid is not None and (gid == group_gid or (user_name is not None and user_name in group_members)):
        return None
    who = f"uid {uid}" + (f" ({user_name})" if user_name else "")
    if group_gid is None:
        return f"permission denied: {who} is neither root nor the daemon's user (no socket group is configured)"
    return f"permission denied: {who} is neither root, the daemon's user nor in group {group_name!r}"


def _resolve_group(group: str) -> int | None:
    """The gid of ``group`` (a name, or a number), None for ""; ConfigError when there is no such group."""
    if not group:
        return None
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        pass
    if group.isdigit():
        return int(group)
    raise ConfigError("control socket", "daemon.socket_group", f"no group named {group!r} on this system")


@dataclass
class _Job:
    """One command on its way to ``submit``; ``cancelled`` once the loop answered it with the timeout."""

    conn: _Connection
    command: Command
    deadline: float
    cancelled: bool = False


class _Connection:
    """One client, owned by the loop thread."""

    def __init__(self, sock: socket.socket, peer: tuple[int, int, int], now: float) -> None:
        self.sock = sock
        self.peer = peer  # pid, uid, gid
        self.inbuf = bytearray()
        self.outbuf = bytearray()
        self.job: _Job | None = None
        self.eof = False           # the client will send nothing more
        self.closing = False       # close once outbuf is written (after an oversized line)
        self.closed = False
        self.events = 0            # what the selector watches for now
        self.last_active = now


class ControlServer:
    """The daemon's side of the control socket. ``start()`` once, ``stop()`` once (idempotent)."""

    name = "control-socket"
    #: Threads calling ``submit``: a wedged submit leaves the others serving.
    WORKERS = 4
    #: Connections served at once; one more is answered "too many connections" and closed.
    MAX_CONNECTIONS = 32
    #: A connection with nothing in flight and nothing received for this long is closed.
    IDLE_TIMEOUT_S = 300.0
    #: Answers waiting for a client that does not read; beyond it, its next lines wait unread.
    OUTPUT_LIMIT_BYTES = 64 * 1024
    #: The loop turns at least this often (its heartbeat), idle or not.
    TURN_S = 0.25

    def __init__(self, path: Path, submit: Callable[[Command], Mapping], *, mode: int = 0o660,
                 group: str = "", answer_timeout_s: float = 10.0) -> None:
        if not 0 <= mode <= 0o777:
            raise ValueError(f"mode must be permission bits (0..0o777), got {mode:#o}")
        if not answer_timeout_s > 0:
            raise ValueError(f"answer_timeout_s must be > 0, got {answer_timeout_s!r}")
        self.path = Path(path)
        self._submit = submit
        self.mode = mode
        self.group = group
        self.answer_timeout_s = float(answer_timeout_s)
        #: time.monotonic() of the loop's last turn (the supervisor judges the loop by it).
        self.heartbeat = time.monotonic()
        self._own_uid = os.geteuid()
        self._group_gid: int | None = None
        self._listener: socket.socket | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the socket file we bound
        self._connections: dict[int, _Connection] = {}
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._results: queue.SimpleQueue[tuple[_Job, bytes]] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers: list[threading.Thread] = []
        self._stopped = False

    # ---- start and stop (the caller's thread) ----

    def start(self) -> None:
        """Bind the socket (after clearing a dead daemon's file), give it its mode and group, start the threads."""
        if self._thread is not None or self._stopped:
            raise RuntimeError("a ControlServer is started once")
        size = len(os.fsencode(self.path))
        if size > MAX_SOCKET_PATH_BYTES:
            raise AgmaError(f"control socket path {self.path} is {size} bytes; a Unix socket path may have at most "
                            f"{MAX_SOCKET_PATH_BYTES} (choose a shorter daemon.socket)")
        self._group_gid = _resolve_group(self.group)
        self._clear_stale_path()
        self._listener = self._bind()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, "listener")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.heartbeat = time.monotonic()
        self._workers = [threading.Thread(target=self._work, name=f"{self.name}-worker-{i}", daemon=False)
                         for i in range(self.WORKERS)]
        for worker in self._workers:
            worker.start()
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=False)
        self._thread.start()
        log.info("control socket listening on %s (mode %o%s)", self.path, self.mode,
                 f", group {self.group}" if self.group else "")

    def stop(self, timeout_s: float = 2.0) -> None:
        """Close the listener and every connection, join the threads, remove the socket file if it is still ours.

        A command in flight is answered "the daemon is stopping". A worker still inside ``submit``
        after ``timeout_s`` is logged by name and left (the runtime's shutdown deadline deals with it).
        """
        if self._stopped:
            return
        self._stopped = True
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout_s
        self._stopping.set()
        self._wake()
        self._thread.join(max(0.0, deadline - time.monotonic()))
        for _ in self._workers:
            self._jobs.put(None)
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in (self._thread, *self._workers) if t.is_alive()]
        if stuck:
            log.error("control socket: threads still running %.1f s after stop: %s", timeout_s, ", ".join(stuck))
        if not self._thread.is_alive():
            for sock in (self._wake_r, self._wake_w):
                if sock is not None:
                    sock.close()
        self._unlink_if_ours()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The loop and worker threads (empty before start)."""
        return tuple(t for t in (self._thread, *self._workers) if t is not None)

    def _clear_stale_path(self) -> None:
        """Remove a socket file nobody listens on; refuse a live listener or a file that is not a socket."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise AgmaError(f"{self.path} exists and is not a socket; remove it or choose another daemon.socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(2.0)
        try:
            probe.connect(os.fspath(self.path))
        except ConnectionRefusedError:  # nobody behind it: a dead daemon's leftover
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            log.info("removed a stale control socket at %s (no daemon was listening)", self.path)
            return
        except FileNotFoundError:  # gone meanwhile
            return
        except (socket.timeout, BlockingIOError):  # a listener with a full backlog is still a listener
            pass
        except OSError as exc:
            raise AgmaError(f"cannot tell whether a daemon is listening on {self.path}: {exc.strerror or exc}") from None
        finally:
            probe.close()
        raise AgmaError(f"another daemon is listening on {self.path}")

    def _bind(self) -> socket.socket:
        """A listening socket at ``self.path`` with its mode and group from its first visible moment."""
        temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.new")
        direct = len(os.fsencode(temp)) > MAX_SOCKET_PATH_BYTES  # no room for a temporary name
        bind_at = self.path if direct else temp
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bound = False
        try:
            if not direct and os.path.lexists(temp):
                os.unlink(temp)  # a leftover of a daemon with our pid that died between bind and rename
            sock.bind(os.fspath(bind_at))
            bound = True
            os.chmod(bind_at, self.mode)
            if self._group_gid is not None:
                try:
                    os.chown(bind_at, -1, self._group_gid)
                except PermissionError:
                    raise AgmaError(f"cannot give the control socket {self.path} to group {self.group!r}: "
                                    f"the daemon's user is neither root nor a member of it") from None
            sock.listen(self.MAX_CONNECTIONS)
            if not direct:
                os.rename(temp, self.path)
            st = os.stat(self.path)
            self._identity = (st.st_dev, st.st_ino)
        except BaseException as exc:
            sock.close()
            if bound and self._identity is None:  # our half-made socket file, never another's
                try:
                    os.unlink(bind_at)
                except OSError:
                    pass
            if isinstance(exc, OSError):
                raise AgmaError(f"cannot create the control socket at {self.path}: {exc.strerror or exc}") from None
            raise
        sock.setblocking(False)
        return sock

    def _unlink_if_ours(self) -> None:
        """Remove the socket file, unless another process has replaced it since (a newer daemon's)."""
        if self._identity is None:
            return
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == self._identity:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        else:
            log.warning("control socket %s was replaced by another; left in place", self.path)

    def _wake(self) -> None:
        try:
            if self._wake_w is not None:
                self._wake_w.send(b"\0")
        except (BlockingIOError, OSError):  # full: a wake-up is already pending; closed: nothing to wake
            pass

    # ---- the workers ----

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job.cancelled or self._stopping.is_set():
                continue
            try:
                answer = self._answer(job.command)
            except Exception:  # _answer handles submit's failures; this is a bug of ours: keep serving
                log.exception("control socket: answering %s failed", job.command.action)
                answer = encode_answer({"ok": False, "error": "internal error while answering"})
            self._results.put((job, answer))
            self._wake()

    def _answer(self, command: Command) -> bytes:
        """``submit(command)`` as one encoded answer line, whatever submit does."""
        try:
            answer = self._submit(command)
        except TimeoutError:
            answer = {"ok": False, "error": TIMEOUT_ANSWER}
        except AgmaError as exc:
            answer = {"ok": False, "error": _one_line(str(exc))}
        except Exception as exc:
            log.exception("control socket: submit(%s) raised", command.action)
            answer = {"ok": False, "error": _one_line(f"internal error: {type(exc).__name__}: {exc}")}
        if not isinstance(answer, Mapping):
            log.error("control socket: submit(%s) returned %s, not a mapping", command.action, type(answer).__name__)
            answer = {"ok": False, "error": "internal error: no answer"}
        answer = dict(answer)
        if command.request_id is not None:
            answer.setdefault("request_id", command.request_id)
        try:
            return encode_answer(answer)
        except (TypeError, ValueError) as exc:
            log.error("control socket: the answer to %s cannot be encoded: %s", command.action, exc)
            return encode_answer(_error_answer("internal error: the answer could not be encoded", command.request_id))

    # ---- the loop (the only thread touching sockets) ----

    def _loop(self) -> None:
        assert self._selector is not None
        try:
            while not self._stopping.is_set():
                self.heartbeat = now = time.monotonic()
                try:
                    self._turn(now)
                except Exception:  # a bug of ours must not end the socket: log it, keep turning
                    log.exception("control socket: loop turn failed")
                    self._stopping.wait(self.TURN_S)
        finally:
            self._shut_down()

    def _turn(self, now: float) -> None:
        assert self._selector is not None
        timeout = self.TURN_S
        for conn in self._connections.values():
            if conn.job is not None:
                timeout = min(timeout, max(0.0, conn.job.deadline - now))
        for key, mask in self._selector.select(timeout):
            if key.data == "listener":
                self._accept()
            elif key.data == "wake":
                self._drain_wake()
            else:
                conn = key.data
                if conn.closed:  # closed earlier in this turn
                    continue
                try:
                    if mask & selectors.EVENT_READ:
                        self._read(conn)
                    if mask & selectors.EVENT_WRITE and not conn.closed:
                        self._flush(conn)
                        self._process(conn)  # room again for the answers of lines still buffered
                except Exception:
                    log.exception("control socket: connection from pid %d failed", conn.peer[0])
                    self._close(conn)
        now = time.monotonic()
        self._collect_results()
        for conn in list(self._connections.values()):
            job = conn.job
            if job is not None and now >= job.deadline:
                job.cancelled = True
                conn.job = None
                log.warning("control socket: %s (pid %d) not answered within %.1f s", job.command.action,
                            conn.peer[0], self.answer_timeout_s)
                self._send(conn, encode_answer(_error_answer(TIMEOUT_ANSWER, job.command.request_id)))
                self._process(conn)
            elif job is None and not conn.outbuf and now - conn.last_active > self.IDLE_TIMEOUT_S:
                self._close(conn)

    def _drain_wake(self) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _accept(self) -> None:
        assert self._listener is not None
        for _ in range(self.MAX_CONNECTIONS):
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # EMFILE and the like: leave it in the backlog, log, keep turning
                log.error("control socket: accept failed: %s", exc)
                return
            try:
                self._admit(sock)
            except Exception:
                log.exception("control socket: admitting a connection failed")
                sock.close()

    def _admit(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        pid, uid, gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        refusal = self._refusal(uid, gid)
        if refusal is None and len(self._connections) >= self.MAX_CONNECTIONS:
            refusal = f"too many connections to the control socket ({self.MAX_CONNECTIONS}); try again"
        if refusal is not None:
            log.warning("control socket: refused pid %d uid %d gid %d: %s", pid, uid, gid, refusal)
            try:
                sock.send(encode_answer({"ok": False, "error": refusal}))  # a new socket's buffer has room
            except OSError:
                pass
            sock.close()
            return
        conn = _Connection(sock, (pid, uid, gid), time.monotonic())
        self._connections[sock.fileno()] = conn
        self._update(conn)

    def _refusal(self, uid: int, gid: int) -> str | None:
        """peer_refusal() with the group's members and the peer's user name read now (membership may change)."""
        members: tuple[str, ...] = ()
        user_name = None
        if uid not in (0, self._own_uid):
            try:
                user_name = pwd.getpwuid(uid).pw_name
            except KeyError:  # a uid without a passwd entry (a container's)
                user_name = None
            if self._group_gid is not None:
                try:
                    members = tuple(grp.getgrgid(self._group_gid).gr_mem)
                except KeyError:
                    members = ()
        return peer_refusal(uid, gid, own_uid=self._own_uid, group_name=self.group, group_gid=self._group_gid,
                            group_members=members, user_name=user_name)

    def _read(self, conn: _Connection) -> None:
        try:
            data = conn.sock.recv(16384)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer
            self._close(conn)
            return
        if data:
            conn.inbuf += data
            conn.last_active = time.monotonic()
        else:
            conn.eof = True
        self._process(conn)

    def _process(self, conn: _Connection) -> None:
        """Answer the complete lines buffered, one command in flight at a time; then fix what to watch for."""
        while not conn.closed and not conn.closing and conn.job is None and len(conn.outbuf) < self.OUTPUT_LIMIT_BYTES:
            newline = conn.inbuf.find(b"\n")
            if newline < 0:
                if len(conn.inbuf) > MAX_COMMAND_BYTES:  # a line already too long: refuse before it grows
                    self._refuse_oversized(conn)
                elif conn.eof and conn.inbuf.strip():  # a last line without its newline
                    line = bytes(conn.inbuf)
                    conn.inbuf.clear()
                    self._handle_line(conn, line)
                    continue
                break
            line = bytes(conn.inbuf[:newline])
            del conn.inbuf[:newline + 1]
            if line.endswith(b"\r"):
                line = line[:-1]
            if len(line) > MAX_COMMAND_BYTES:
                self._refuse_oversized(conn)
                break
            if line.strip():
                self._handle_line(conn, line)
        if conn.closed:
            return
        if conn.eof and conn.job is None and not conn.inbuf.strip():
            conn.closing = True
        if conn.closing and not conn.outbuf:
            self._close(conn)
            return
        self._update(conn)

    def _refuse_oversized(self, conn: _Connection) -> None:
        conn.inbuf.clear()
        conn.closing = True
        self._send(conn, encode_answer({"ok": False, "error": f"request line is longer than {MAX_COMMAND_BYTES} "
                                                              "bytes; closing the connection"}))

    def _handle_line(self, conn: _Connection, line: bytes) -> None:
        parsed = parse_command(line, origin="socket")
        if isinstance(parsed, CommandError):
            self._send(conn, encode_answer(_error_answer(parsed.error, parsed.request_id)))
            return
        conn.job = _Job(conn, parsed, time.monotonic() + self.answer_timeout_s)
        self._jobs.put(conn.job)

    def _collect_results(self) -> None:
        while True:
            try:
                job, answer = self._results.get_nowait()
            except queue.Empty:
                return
            conn = job.conn
            if job.cancelled or conn.closed or conn.job is not job:
                continue  # answered with the timeout already, or its client is gone
            conn.job = None
            self._send(conn, answer)
            self._process(conn)

    def _send(self, conn: _Connection, data: bytes) -> None:
        """Queue an answer and write what the socket takes now; the caller then calls _process()."""
        conn.outbuf += data
        conn.last_active = time.monotonic()
        self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        while conn.outbuf and not conn.closed:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # the client went away
                self._close(conn)
                return
            del conn.outbuf[:sent]
        if not conn.closed and conn.closing and not conn.outbuf:
            self._close(conn)

    def _update(self, conn: _Connection) -> None:
        """Watch a connection for what it can do now: read when nothing is in flight, write while answers wait."""
        assert self._selector is not None
        events = 0
        if not conn.eof and not conn.closing and conn.job is None and len(conn.outbuf) < self.OUTPUT_LIMIT_BYTES:
            events |= selectors.EVENT_READ
        if conn.outbuf:
            events |= selectors.EVENT_WRITE
        if events == conn.events:
            return
        if conn.events and events:
            self._selector.modify(conn.sock, events, conn)
        elif events:
            self._selector.register(conn.sock, events, conn)
        else:
            self._selector.unregister(conn.sock)
        conn.events = events

    def _close(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        if conn.job is not None:
            conn.job.cancelled = True
            conn.job = None
        if conn.events and self._selector is not None:
            try:
                self._selector.unregister(conn.sock)
            except (KeyError, ValueError):
                pass
        conn.events = 0
        self._connections.pop(conn.sock.fileno(), None)
        conn.sock.close()

    def _shut_down(self) -> None:
        """The loop's last act: answer what is in flight, close every connection and the listener."""
        for conn in list(self._connections.values()):
            if conn.job is not None:
                request_id = conn.job.command.request_id
                conn.job.cancelled = True
                conn.job = None
                try:
                    conn.sock.send(bytes(conn.outbuf) + encode_answer(_error_answer(STOPPING_ANSWER, request_id)))
                except OSError:
                    pass
            self._close(conn)
        while True:  # commands still queued are never submitted
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancelled = True
        if self._selector is not None:
            self._selector.close()
        if self._listener is not None:
            self._listener.close()


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "error"


def _error_answer(error: str, request_id: str | None) -> dict:
    answer: dict = {"ok": False, "error": error}
    if request_id is not None:
        answer["request_id"] = request_id
    return answer


def _connect(sock: socket.socket, path: Path, deadline: float) -> None:
    """connect(), retried while the listener's backlog is full (a Unix socket with a timeout says EAGAIN
    at once instead of waiting) until ``deadline``."""
    while True:
        try:
            sock.connect(os.fspath(path))
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def request(path: Path, obj: Mapping, timeout_s: float = 10.0) -> dict:
    """Send one request to the daemon at ``path`` and return its answer (a JSON object).

    DaemonNotRunning when there is no socket or nobody behind it; AgmaError (one line) when the
    daemon refuses the connection, does not answer within ``timeout_s`` or answers nonsense.
    """
    path = Path(path)
    deadline = time.monotonic() + timeout_s
    line = encode_answer(obj)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        try:
            _connect(sock, path, deadline)
        except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
            raise DaemonNotRunning(path) from None
        except PermissionError:
            raise AgmaError(f"permission denied on the control socket {path}: only root, the daemon's user "
                            "and members of daemon.socket_group may use it") from None
        except (socket.timeout, BlockingIOError):
            raise AgmaError(f"the daemon at {path} did not accept the connection within {timeout_s:g} s") from None
        except OSError as exc:
            raise AgmaError(f"cannot connect to the control socket {path}: {exc.strerror or exc}") from None
        try:
            sock.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon closed at once (a refused peer): its answer, if any, is still to be read
        except socket.timeout:
            raise AgmaError(f"the daemon at {path} did not read the request within {timeout_s:g} s") from None
        buf = bytearray()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgmaError(f"the daemon at {path} did not answer within {timeout_s:g} s")
            sock.settimeout(left)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                raise AgmaError(f"the daemon at {path} did not answer within {timeout_s:g} s") from None
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise AgmaError(f"the daemon at {path} closed the connection without answering")
            buf += chunk
            if len(buf) > MAX_ANSWER_BYTES:
                raise AgmaError(f"the daemon's answer is longer than {MAX_ANSWER_BYTES} bytes")
    finally:
        sock.close()
    try:
        answer = json.loads(bytes(buf[:buf.index(b"\n")]))
    except ValueError:
        raise AgmaError(f"the daemon at {path} answered something that is not JSON") from None
    if not isinstance(answer, dict):
        raise AgmaError(f"the daemon at {path} answered JSON that is not an object")
    return answer
