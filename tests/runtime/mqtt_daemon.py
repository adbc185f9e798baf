"""A daemon talking to a real Mosquitto: the broker (restartable on its port), a desk-side watcher.

The broker is Debian's ``mosquitto`` on a free loopback port, started through tests/helpers.spawned
(killed on every exit path); ``stop()`` and ``start()`` again keep the port, so a test can take the
broker away mid-session. The watcher is a plain paho client (test code may import paho: the
one-module rule is the package's) that records every message with its arrival time and subscribes
again after each reconnect.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from tests.helpers import DEADLINE_S, spawned, wait_until

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
INSTALL = "needs Debian's mosquitto (scripts/test.sh installs it as root; else: sudo apt-get install -y mosquitto)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        return True
    except OSError:
        return False


class Broker:
    """``with Broker(tmp) as b:`` a running broker at 127.0.0.1:b.port; ``extra_conf`` lines are appended
    (a password_file, an acl_file, a TLS listener); anonymous=False: every client must log in."""

    def __init__(self, folder: Path, extra_conf: str = "", anonymous: bool = True) -> None:
        assert MOSQUITTO is not None, INSTALL
        self.folder, self.port = Path(folder), free_port()
        self.conf = self.folder / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous {'true' if anonymous else 'false'}\n"
                             "persistence false\n"
                             + ("user root\n" if os.geteuid() == 0 else "") + extra_conf)
        self._stack: contextlib.ExitStack | None = None
        self.proc = None

    def start(self) -> None:
        self._stack = contextlib.ExitStack()
        log = self._stack.enter_context(open(self.folder / "mosquitto.log", "ab"))
        self.proc = self._stack.enter_context(spawned([MOSQUITTO, "-c", str(self.conf)], stdout=log,
                                                      stderr=subprocess.STDOUT))
        wait_until(lambda: listening(self.port), "mosquitto listening", proc=self.proc)

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.close()  # spawned kills and reaps it
            self._stack = None
        wait_until(lambda: not listening(self.port), "mosquitto gone")

    def __enter__(self) -> "Broker":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Watcher:
    """The desk: subscribes ``topics`` (again after each reconnect), keeps (topic, payload, retain, t_mono)."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("agma/#",)) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: list[tuple[str, bytes, bool, float]] = []
        self._lock = threading.Lock()
        self.topics = topics
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"watcher-{os.getpid()}-{time.monotonic_ns()}")
        c.reconnect_delay_set(0.2, 1.0)
        c.on_connect = lambda cl, u, f, rc, p: [cl.subscribe(t, qos=1) for t in self.topics]
        c.on_message = self._on_message
        self.client = c
        c.connect_async("127.0.0.1", port, keepalive=10)
        c.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain), time.monotonic()))

    def publish(self, topic: str, payload, retain: bool = False) -> None:
        wait_until(lambda: self.client.is_connected(), "the watcher connected")
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(DEADLINE_S)

    def on(self, topic: str, since: float = 0.0) -> list:
        """JSON payloads (or text) received on ``topic`` after monotonic time ``since``."""
        with self._lock:
            items = [m for m in self.messages if m[0] == topic and m[3] >= since]
        out = []
        for t, payload, retain, at in items:
            try:
                out.append(json.loads(payload))
            except ValueError:
                out.append(payload.decode("utf-8", "replace"))
        return out

    def wait_for(self, topic: str, pred, what: str, since: float = 0.0, proc=None):
        """The first payload on ``topic`` (after ``since``) for which pred holds; fails after the deadline."""
        found = []

        def check():
            for p in self.on(topic, since):
                if pred(p):
                    found.append(p)
                    return True
            return False
        wait_until(check, what, proc=proc)
        return found[0]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@contextlib.contextmanager
def watching(port: int, topics: tuple[str, ...] = ("agma/#",)):
    w = Watcher(port, topics)
    try:
        yield w
    finally:
        w.close()


def start_connected(env: dict, proc) -> str:
    """Wait until the daemon's broker link is up, start a session through the socket; -> its id."""
    from tests.runtime.daemon_env import ctl, status

    wait_until(lambda: status(env).get("mqtt") == "connected", "the box connected", proc=proc)
    code, answer = ctl(env, "start")
    assert code == 0 and answer["ok"], answer
    return answer["session_id"]


def mqtt_env(port: int, **extra: str) -> dict:
    """The daemon's MQTT keys for a broker on 127.0.0.1:port, short heartbeat and stats."""
    env = {"AGMA_MQTT__ENABLED": "true", "AGMA_MQTT__HOST": "127.0.0.1", "AGMA_MQTT__PORT": str(port),
           "AGMA_MQTT__HEARTBEAT_S": "1", "AGMA_MQTT__STATS_S": "2", "AGMA_MQTT__KEEPALIVE_S": "5"}
    env.update(extra)
    return env


__all__ = ["Broker", "DEADLINE_S", "Watcher", "free_port", "listening", "mqtt_env", "watching"]
