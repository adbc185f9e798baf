"""The one module that imports paho-mqtt (2.x, ``CallbackAPIVersion.VERSION2``), lazily.

``Link`` is one MQTT client connection run by a thread of our own (``<name>-network``): it
connects, runs paho's ``loop`` and reconnects with backoff (1, 2, 4, capped at 10 s), so the
runtime owns, names and joins it like every other thread, and a failed connection's own error
text (a refused certificate, a wrong password, no route) reaches the log in one line. paho's
callbacks only *enqueue* — a ``LinkEvent`` or an ``Incoming`` message onto the owner's queue —
inside a ``try`` that logs and swallows anything they raise: an exception escaping a callback would
kill paho's loop or make it retry a QoS 1 message forever (eclipse-paho/paho.mqtt.python#867).
Everything else (what to publish, parsing commands, marking events delivered) is done by the
owner's threads: status/mqtt_sink.py for the box, status/ward.py for the monitoring desk.

MQTT 3.1.1 with a clean session: nothing queued for the box while it was away is delivered late.
``publish`` never blocks: paho's outgoing queue is bounded (``max_queued``), a message that
does not fit, or that is offered while disconnected, is dropped and counted (events are safe in
the database's outbox and go out again; status and stats are republished anyway).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import AgmaError

log = logging.getLogger(__name__)

#: Reconnect backoff, seconds: doubling from the first, capped at the last.
BACKOFF_S = (1.0, 10.0)
#: How long a clean stop waits for its last message (availability offline) to be acknowledged, seconds.
FINAL_WAIT_S = 2.0


class MqttError(AgmaError):
    """MQTT cannot be used as configured (paho missing, an unreadable password or TLS file)."""


def _paho():
    try:
        import paho.mqtt.client as client
        from paho.mqtt.enums import CallbackAPIVersion
    except ImportError:
        raise MqttError("MQTT needs paho-mqtt 2.x, which is missing: pip install 'paho-mqtt>=2,<3' "
                        "(scripts/demo.sh and scripts/test.sh install it)") from None
    return client, CallbackAPIVersion


@dataclass(frozen=True)
class Security:
    """Credentials and TLS files (paths; '' = none). TLS is on when ``tls_ca`` is set."""

    username: str = ""
    password_file: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""

    @classmethod
    def from_config(cls, cfg, section: str = "mqtt") -> "Security":
        return cls(*(cfg[f"{section}.{k}"] for k in ("username", "password_file", "tls_ca", "tls_cert", "tls_key")))

    def password(self) -> str | None:
        """The password file's first line, or None when no file is configured."""
        if not self.password_file:
            return None
        try:
            lines = Path(self.password_file).expanduser().read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise MqttError(f"mqtt password file {self.password_file}: cannot read it ({exc})") from None
        return lines[0] if lines else ""

    def check(self) -> None:
        """Raise MqttError naming the first configured file that cannot be read."""
        self.password()
        for name in ("tls_ca", "tls_cert", "tls_key"):
            path = getattr(self, name)
            if path and not Path(path).expanduser().is_file():
                raise MqttError(f"mqtt {name} {path}: no such file")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise MqttError("mqtt tls_cert and tls_key go together: set both or neither")
        if self.tls_cert and not self.tls_ca:
            raise MqttError("mqtt tls_cert needs tls_ca (the broker's CA): TLS is on only with tls_ca")


@dataclass(frozen=True)
class LinkEvent:
    """What happened to the connection: kind connected / refused / disconnected / failed / acked.

    detail: the broker's reason or the error text; mid: the acknowledged message (acked)."""

    kind: str
    detail: str = ""
    mid: int = 0


@dataclass(frozen=True)
class Incoming:
    """A message from the broker: the topic, the raw payload bytes and whether it was retained."""

    topic: str
    payload: bytes
    retain: bool


@dataclass(frozen=True)
class BrokerProbe:
    """One connection attempt's outcome: kind connected | files (a credential or TLS file) |
    unreachable (no TCP connection) | tls (the handshake failed: certificate, host name) | refused
    (the broker said no: the login) | timeout (no answer); detail: one line."""

    kind: str
    detail: str

    @property
    def ok(self) -> bool:
        return self.kind == "connected"


def probe_broker(host: str, port: int, security: Security, client_id: str, timeout_s: float = 5.0) -> BrokerProbe:
    """Connect once with these credentials and TLS files, wait for the broker's answer, disconnect
    (`agma doctor`). Publishes and subscribes nothing, sets no will; never raises. client_id must
    not be the daemon's own (the broker would drop the daemon's connection for it)."""
    import socket
    import ssl

    try:
        security.check()
        client_mod, api = _paho()
        c = client_mod.Client(api.VERSION2, client_id=client_id, clean_session=True, protocol=client_mod.MQTTv311)
        if security.username:
            c.username_pw_set(security.username, security.password())
        if security.tls_ca:
            try:
                c.tls_set(ca_certs=str(Path(security.tls_ca).expanduser()),
                          certfile=str(Path(security.tls_cert).expanduser()) if security.tls_cert else None,
                          keyfile=str(Path(security.tls_key).expanduser()) if security.tls_key else None)
            except (OSError, ValueError) as exc:
                raise MqttError(f"mqtt TLS files ({security.tls_ca}): {exc}") from None
    except MqttError as exc:
        return BrokerProbe("files", str(exc))
    where = f"{host}:{port}" + (" (TLS)" if security.tls_ca else "")
    c.connect_timeout = timeout_s
    answer: list = []
    c.on_connect = lambda client, userdata, flags, reason_code, properties: answer.append(reason_code)
    try:
        try:
            c.connect(host, port, keepalive=max(5, int(timeout_s) * 2))
        except ssl.SSLCertVerificationError as exc:  # before OSError: these are OSErrors
            return BrokerProbe("tls", f"{where}: the broker's certificate is refused: {exc.verify_message or exc}")
        except ssl.SSLError as exc:
            return BrokerProbe("tls", f"{where}: TLS handshake failed: {exc.reason or exc}")
        except (socket.timeout, TimeoutError):
            return BrokerProbe("timeout", f"{where}: no answer within {timeout_s:g} s")
        except ConnectionResetError as exc:
            if security.tls_ca:  # a listener that does not speak TLS hangs up on the handshake
                return BrokerProbe("tls", f"{where}: TLS handshake failed: the connection was reset (not a TLS listener?)")
            return BrokerProbe("unreachable", f"cannot connect to {where}: {exc.strerror or exc}")
        except OSError as exc:
            return BrokerProbe("unreachable", f"cannot connect to {where}: {exc.strerror or exc}")
        except ValueError as exc:  # paho's own checks (an empty host, a bad port)
            return BrokerProbe("unreachable", f"cannot connect to {where}: {exc}")
        end = time.monotonic() + timeout_s
        while not answer and time.monotonic() < end:
            if c.loop(timeout=0.1) != 0:
                break
        if not answer:
            return BrokerProbe("timeout", f"{where}: connected, but the broker did not answer the login within {timeout_s:g} s")
        if answer[0].is_failure:
            return BrokerProbe("refused", f"{where} refused the login" + (f" of {security.username!r}" if security.username else "")
                               + f": {answer[0]}")
        expiry = ""
        sock = c.socket()
        if security.tls_ca and hasattr(sock, "getpeercert"):
            not_after = (sock.getpeercert() or {}).get("notAfter")
            if not_after:
                expiry = f"; its certificate is valid until {not_after}"
        who = f" as {security.username!r}" if security.username else " (anonymous)"
        return BrokerProbe("connected", f"connected to {where}{who}{expiry}")
    finally:
        try:
            c.disconnect()
            c.loop(timeout=0.05)
        except Exception:  # the socket is already gone
            pass


class Link:
    """One MQTT connection (see the module's doc). Use: ``start()``, ``publish``/``subscribe``, ``stop()``.

    inbox: where the callbacks put LinkEvent and Incoming items, for the owner's thread.
    will: (topic, payload, retain) the broker sends when the connection vanishes; None: no will.
    subscriptions: topics (QoS 1) subscribed on every (re)connect.
    """

    def __init__(self, name: str, host: str, port: int, client_id: str, security: Security, keepalive_s: int,
                 inbox: queue.Queue, will: tuple[str, str, bool] | None = None,
                 subscriptions: tuple[str, ...] = (), max_queued: int = 1000) -> None:
        self.name, self.host, self.port = name, host, port
        self.client_id, self.security, self.keepalive_s = client_id, security, keepalive_s
        self.inbox, self.will, self.subscriptions, self.max_queued = inbox, will, subscriptions, max_queued
        self.connected = False
        self.dropped = 0  # messages not queued: disconnected, or paho's queue full
        self.reconnects = 0
        self.last_error: str | None = None
        self._client = None
        self._stop = threading.Event()
        self._final: tuple[str, str, bool] | None = None
        self._thread = threading.Thread(target=self._run, name=f"{name}-network")

    # -- the owner's side ------------------------------------------------------------------------------------
    def start(self) -> None:
        """Build the client (raises MqttError when paho or a configured file is missing) and start connecting."""
        self.security.check()
        client_mod, api = _paho()
        c = client_mod.Client(api.VERSION2, client_id=self.client_id, clean_session=True,
                              protocol=client_mod.MQTTv311)
        c.suppress_exceptions = True  # a bug in a callback is logged, never raised into the loop
        c.max_queued_messages_set(self.max_queued)
        if self.security.username:
            c.username_pw_set(self.security.username, self.security.password())
        if self.security.tls_ca:
            try:
                c.tls_set(ca_certs=str(Path(self.security.tls_ca).expanduser()),
                          certfile=str(Path(self.security.tls_cert).expanduser()) if self.security.tls_cert else None,
                          keyfile=str(Path(self.security.tls_key).expanduser()) if self.security.tls_key else None)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a file that is not PEM
                raise MqttError(f"mqtt TLS files ({self.security.tls_ca}): {exc}") from None
        if self.will is not None:
            topic, payload, retain = self.will
            c.will_set(topic, payload, qos=1, retain=retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self._client = c
        self._thread.start()

    def publish(self, topic: str, payload: str | bytes, qos: int = 0, retain: bool = False) -> int | None:
        """Queue one message; -> its mid (acknowledged later as LinkEvent("acked", mid=...) for QoS 1),
        or None when it was dropped (not connected, or paho's bounded queue is full). Never blocks."""
        c = self._client
        if c is None or not self.connected:
            self.dropped += 1
            return None
        info = c.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != 0:
            self.dropped += 1
            return None
        return info.mid

    def stop(self, timeout_s: float = 2.0, final: tuple[str, str, bool] | None = None) -> None:
        """Publish ``final`` (topic, payload, retain) when connected, wait for it briefly, disconnect and
        join the network thread (within timeout_s)."""
        self._final = final
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(max(0.1, timeout_s))

    def threads(self) -> tuple[threading.Thread, ...]:
        return (self._thread,) if self._thread.ident is not None else ()

    # -- the network thread ----------------------------------------------------------------------------------
    def _run(self) -> None:
        c = self._client
        delay = BACKOFF_S[0]
        first = True
        while not self._stop.is_set():
            try:
                if first:
                    c.connect(self.host, self.port, keepalive=self.keepalive_s)
                else:
                    c.reconnect()
            except (OSError, ValueError) as exc:  # refused, unreachable, TLS refused (ssl.SSLError is OSError)
                self._put(LinkEvent("failed", f"cannot connect to {self.host}:{self.port}: {exc}"))
                self._stop.wait(delay)
                delay = min(delay * 2, BACKOFF_S[1])
                continue
            first = False
            self._came_up = False  # set by on_connect when the broker accepts us
            rc = 0
            while rc == 0 and not self._stop.is_set():
                rc = c.loop(timeout=0.2)
            if self._stop.is_set():
                break
            self.connected = False
            if self._came_up:  # it worked until now: try again soon, then back off
                delay = BACKOFF_S[0]
            self._stop.wait(delay)
            if not self._came_up:
                delay = min(delay * 2, BACKOFF_S[1])
            self.reconnects += 1
        self._finish(c)

    _came_up = False

    def _finish(self, c) -> None:
        """At stop: the final message (availability offline), then a clean DISCONNECT (no Last Will)."""
        try:
            if self.connected and self._final is not None:
                topic, payload, retain = self._final
                info = c.publish(topic, payload, qos=1, retain=retain)
                end = time.monotonic() + FINAL_WAIT_S
                while not info.is_published() and time.monotonic() < end and c.loop(timeout=0.1) == 0:
                    pass
            c.disconnect()
            for _ in range(5):  # send the DISCONNECT
                if c.loop(timeout=0.05) != 0:
                    break
        except Exception as exc:  # the socket is already gone: nothing more to say to the broker
            log.debug("%s: closing: %s", self.name, exc)
        self.connected = False

    # -- paho's callbacks: enqueue only, never raise -----------------------------------------------------------
    def _put(self, item) -> None:
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            pass

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                self.connected = False
                self._put(LinkEvent("refused", f"{self.host}:{self.port} refused the connection: {reason_code}"))
                return
            self.connected = self._came_up = True
            for t in self.subscriptions:
                client.subscribe(t, qos=1)
            self._put(LinkEvent("connected"))
        except Exception:
            log.exception("%s: on_connect", self.name)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            self.connected = False
            self._put(LinkEvent("disconnected", str(reason_code)))
        except Exception:
            log.exception("%s: on_disconnect", self.name)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        try:
            self._put(LinkEvent("acked", mid=mid))
        except Exception:
            log.exception("%s: on_publish", self.name)

    def _on_message(self, client, userdata, message) -> None:
        try:
            self._put(Incoming(message.topic, bytes(message.payload), bool(message.retain)))
        except Exception:
            log.exception("%s: on_message", self.name)
