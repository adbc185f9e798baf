"""The box's MQTT status sink: availability, status, stats, durable events and commands (docs/mqtt.md).

Threads (each named, owned by this sink, joined by ``stop``):

- ``mqtt-network`` (status/mqtt.py ``Link``): the connection; paho's callbacks only enqueue;
- ``mqtt``: everything else that is quick — it takes what the callbacks queued, republishes the
  retained status on every change, every ``heartbeat_s`` and every (re)connect, the stats every
  ``stats_s``, sends the database's undelivered events in order (store/outbox.py: read on its own
  read-only connection, at most ``MAX_IN_FLIGHT`` unacknowledged, ``EVENTS_PER_S`` a second) and
  hands PUBACKed ids back to the runtime to delete from the outbox; it parses commands (the one
  parser, status/commands.py) and queues the valid ones;
- ``mqtt-commands``: runs each command through the runtime (``answer``, which may wait for the
  control loop) and publishes the answer on ``cmd/result``; a repeated request_id gets its first
  answer again and runs nothing.

Nothing here waits for the broker: a disconnected or slow broker only means messages are dropped
and counted (status and stats are republished anyway, events stay in the outbox). A retained
command is ignored (a stale retained ``start`` must never start a recording after a reboot); a
command whose ``sent_at`` is older than ``cmd_max_age_s`` is refused as stale.
"""
from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import AgmaError
from . import payloads
from .commands import Command, CommandError, encode_answer, parse_command
from .mqtt import Incoming, Link, LinkEvent, Security
from .topics import topic

log = logging.getLogger(__name__)

#: Unacknowledged events on the wire at most (paho's own in-flight window is 20).
MAX_IN_FLIGHT = 20
#: Events sent per second at most while catching up after an outage.
EVENTS_PER_S = 50.0
#: How often the mqtt thread turns, seconds.
TICK_S = 0.1
#: Request ids remembered for deduplication.
REMEMBERED_REQUESTS = 256
#: Commands waiting for the commands thread at most; more are answered "busy".
COMMAND_QUEUE = 32


@dataclass(frozen=True)
class MqttSettings:
    """What the sink needs of the config (``from_config``); plain values so that benches build many."""

    host: str
    port: int
    prefix: str
    box_id: str
    keepalive_s: int
    heartbeat_s: float
    stats_s: float
    cmd_max_age_s: float
    security: Security = field(default_factory=Security)
    software_version: str = ""

    @classmethod
    def from_config(cls, cfg, software_version: str) -> "MqttSettings":
        return cls(cfg["mqtt.host"], cfg["mqtt.port"], cfg["mqtt.prefix"], cfg["box.id"], cfg["mqtt.keepalive_s"],
                   cfg["mqtt.heartbeat_s"], cfg["mqtt.stats_s"], cfg["mqtt.cmd_max_age_s"], Security.from_config(cfg),
                   software_version)


@dataclass(frozen=True)
class BoxView:
    """The box as the sink publishes it, from the runtime's Health snapshot (runtime/factories.py).

    status: the `agma status` document (runtime/health.py STATUS_KEYS); session_started_ns: ns since
    the epoch, None while idle; valid_joint_ratio: NaN before the session's first frame; latency_ms:
    per stage {"p50", "p95", "p99"}; ring_overruns / ring_dropped: the capture ring's counts."""

    status: Mapping[str, Any]
    session_started_ns: int | None = None
    valid_joint_ratio: float = float("nan")
    latency_ms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    ring_overruns: int = 0
    ring_dropped: int = 0


@dataclass(frozen=True)
class EventStore:
    """Where the events wait (store/outbox.py), as the runtime hands it over.

    open_reader: called in the mqtt thread -> an object with ``pending(after_id, limit)`` (events
    with id, session_uid, t_ns, kind, detail, oldest first), ``latest()``, ``queued()`` and
    ``close()``; it may raise sqlite3.Error (then it is opened again later). mark_delivered: deletes
    PUBACKed ids from the outbox through the store writer; may raise (the ids are kept and retried)."""

    open_reader: Callable[[], Any]
    mark_delivered: Callable[[list[int]], None]


class MqttSink:
    """See the module's doc. ``start()``, ``stop(timeout_s)``; ``link`` and ``heartbeat`` for the runtime."""

    name = "mqtt"

    def __init__(self, settings: MqttSettings, snapshot: Callable[[], BoxView], answer: Callable[[Command], Mapping],
                 events: EventStore | None = None, client_id: str | None = None) -> None:
        self.settings, self._snapshot, self._answer, self._events = settings, snapshot, answer, events
        s = settings
        self._t = {name: topic(s.prefix, s.box_id, name) for name in ("availability", "status", "stats", "events",
                                                                       "cmd", "cmd/result")}
        self._inbox: queue.Queue = queue.Queue(maxsize=10_000)
        self._link = Link("mqtt", s.host, s.port, client_id or f"agma-{s.box_id}", s.security, s.keepalive_s,
                          self._inbox, will=(self._t["availability"], "offline", True),
                          subscriptions=(self._t["cmd"],))
        self._commands: queue.Queue = queue.Queue(maxsize=COMMAND_QUEUE)
        self._answers: OrderedDict[str, dict] = OrderedDict()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mqtt")
        self._cmd_thread = threading.Thread(target=self._run_commands, name="mqtt-commands")
        self.heartbeat = time.monotonic()
        self._state, self._detail = "connecting", None
        self._ever_connected = False
        # the mqtt thread's own
        self._db = None  # the EventStore's reader, opened in the mqtt thread
        self._db_error: str | None = None
        self._in_flight: dict[int, int] = {}  # mid -> event id
        self._acked: list[int] = []  # delivered, not yet removed from the outbox
        self._sent_upto = 0  # highest event id sent on this connection
        self._send_credit = 0.0
        self._last_status: dict | None = None
        self._status_at = self._stats_at = 0.0
        self._cpu = None
        self._bugs: set[tuple[str, str, str]] = set()  # errors already logged
        self.counts = {"published": 0, "dropped": 0, "events_delivered": 0, "events_pending": 0, "reconnects": 0,
                       "commands": 0, "refused_commands": 0}

    # -- the runtime's side ----------------------------------------------------------------------------------
    @property
    def link(self) -> tuple[str, str | None]:
        """(off | connecting | connected | disconnected, why) for the status document."""
        return self._state, self._detail

    def start(self) -> None:
        """Start connecting (raises MqttError when paho or a configured file is missing); never waits for a broker."""
        self._link.start()
        self._thread.start()
        self._cmd_thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Publish availability offline (when connected), disconnect cleanly and join the threads."""
        end = time.monotonic() + timeout_s
        self._stop.set()
        for t in (self._thread, self._cmd_thread):
            if t.ident is not None:
                t.join(max(0.1, end - time.monotonic()))
        self._link.stop(max(0.1, end - time.monotonic()), final=(self._t["availability"], "offline", True))

    def threads(self) -> tuple[threading.Thread, ...]:
        return tuple(t for t in (self._thread, self._cmd_thread) if t.ident is not None) + self._link.threads()

    # -- the mqtt thread -------------------------------------------------------------------------------------
    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.is_set():
            self.heartbeat = now = time.monotonic()
            self._step(self._drain_inbox)
            if self._link.connected:
                self._send_credit = min(float(MAX_IN_FLIGHT), self._send_credit + (now - last) * EVENTS_PER_S)
                self._step(self._publish_status, now)
                self._step(self._publish_stats, now)
                self._step(self._send_events)
            self._step(self._flush_acked)
            last = now
            self._stop.wait(TICK_S)
        try:
            self._flush_acked()
        except Exception:
            log.exception("mqtt: marking delivered events at stop failed")
        if self._db is not None:  # opened in this thread, closed in it
            self._db.close()
            self._db = None

    def _step(self, fn, *args) -> None:
        """One step of a turn; a bug in it is logged (once per distinct error, with its traceback in
        the log) and the other steps and later turns go on."""
        try:
            fn(*args)
        except Exception as exc:
            key = (fn.__name__, type(exc).__name__, str(exc))
            if key not in self._bugs:
                self._bugs.add(key)
                log.exception("mqtt: %s failed", fn.__name__.lstrip("_"))

    def _drain_inbox(self) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, LinkEvent):
                self._on_link(item)
            elif isinstance(item, Incoming):
                self._on_message(item)

    def _on_link(self, e: LinkEvent) -> None:
        if e.kind == "acked":
            event_id = self._in_flight.pop(e.mid, None)
            if event_id is not None:
                self._acked.append(event_id)
            return
        if e.kind == "connected":
            self._state, self._detail, self._ever_connected = "connected", None, True
            log.info("mqtt: connected to %s:%d", self.settings.host, self.settings.port)
            self._link.publish(self._t["availability"], "online", qos=1, retain=True)
            self._last_status = None  # republish status and stats on every (re)connect
            self._stats_at = 0.0
            self._in_flight.clear()  # paho forgets them with the session: resend from the outbox
            self._sent_upto = 0
            return
        # refused / failed / disconnected: say it once per distinct reason
        if e.kind == "disconnected" and self._state == "connected":
            self.counts["reconnects"] += 1
        self._state = "disconnected" if self._ever_connected else "connecting"
        if e.detail != self._detail:
            self._detail = e.detail
            log.warning("mqtt: %s", e.detail if e.kind != "disconnected" else f"disconnected ({e.detail}); reconnecting")

    def _on_message(self, msg: Incoming) -> None:
        if msg.topic != self._t["cmd"]:
            return
        if msg.retain:  # delivered because it was retained, not because someone sent it now
            log.warning("mqtt: a retained command on %s was ignored (commands are never retained)", msg.topic)
            return
        cmd = parse_command(msg.payload, origin="mqtt")
        if isinstance(cmd, Command) and cmd.sent_at is not None and time.time() - cmd.sent_at > self.settings.cmd_max_age_s:
            cmd = CommandError(f"stale command: sent {time.time() - cmd.sent_at:.0f} s ago "
                               f"(mqtt.cmd_max_age_s is {self.settings.cmd_max_age_s:g})", cmd.request_id)
        if isinstance(cmd, CommandError):
            self.counts["refused_commands"] += 1
            log.warning("mqtt: command refused: %s", cmd.error)
            self._publish_result(cmd.request_id, {"ok": False, "error": cmd.error})
            return
        try:
            self._commands.put_nowait(cmd)
        except queue.Full:
            self._publish_result(cmd.request_id, {"ok": False, "error": "busy: too many commands waiting"})

    def _view(self) -> BoxView | None:
        try:
            return self._snapshot()
        except Exception:
            log.exception("mqtt: reading the box's snapshot failed")
            return None

    def _publish_status(self, now: float) -> None:
        view = self._view()
        if view is None:
            return
        s = self.settings
        last_event = self._latest_event()
        doc = payloads.status_payload(view.status, box_id=s.box_id, software_version=s.software_version,
                                      heartbeat_s=s.heartbeat_s, now_ns=time.time_ns(),
                                      session_started_ns=view.session_started_ns,
                                      valid_joint_ratio=view.valid_joint_ratio, last_event=last_event)
        prev = self._last_status
        due = now - self._status_at >= s.heartbeat_s
        changed = payloads.status_changed(prev, doc) or (prev is not None and prev.get("last_event") != last_event)
        if due or changed:
            if self._send(self._t["status"], doc, qos=1, retain=True) is not None:
                self._last_status, self._status_at = doc, now

    def _publish_stats(self, now: float) -> None:
        if now - self._stats_at < self.settings.stats_s:
            return
        view = self._view()
        if view is None:
            return
        from .system_stats import read_system

        system, self._cpu = read_system(self._cpu)
        self.counts["dropped"] = self._link.dropped
        doc = payloads.stats_payload(box_id=self.settings.box_id, now_ns=time.time_ns(), system=system,
                                     latency_ms=view.latency_ms, dropped_frames=int(view.status.get("dropped_frames") or 0),
                                     queue_depths=view.status.get("queue_depths") or {},
                                     ring_overruns=view.ring_overruns, ring_dropped=view.ring_dropped, mqtt=self.counts)
        if self._send(self._t["stats"], doc, qos=0, retain=False) is not None:
            self._stats_at = now

    def _send(self, full_topic: str, doc: Mapping, qos: int, retain: bool) -> int | None:
        mid = self._link.publish(full_topic, json.dumps(doc, separators=(",", ":"), allow_nan=False), qos=qos,
                                 retain=retain)
        if mid is not None:
            self.counts["published"] += 1
        return mid

    def _publish_result(self, request_id: str | None, answer: Mapping) -> None:
        self._send(self._t["cmd/result"], payloads.cmd_result(request_id, answer), qos=1, retain=False)

    # -- events: the database's outbox ------------------------------------------------------------------------
    def _query(self, fn):
        """fn(reader) -> its value; None when there is no event store or the database cannot be read
        now (said once per distinct reason; the reader is opened again on the next turn)."""
        if self._events is None:
            return None
        try:
            if self._db is None:
                self._db = self._events.open_reader()
            value = fn(self._db)
        except sqlite3.Error as exc:
            if str(exc) != self._db_error:
                self._db_error = str(exc)
                log.warning("mqtt: cannot read the events: %s", exc)
            if self._db is not None:
                self._db.close()
                self._db = None
            return None
        self._db_error = None
        return value

    def _latest_event(self) -> dict | None:
        ev = self._query(lambda r: r.latest())
        return self._event_doc(ev) if ev is not None else None

    def _event_doc(self, ev) -> dict:
        return payloads.event_payload(self.settings.box_id, ev.id, ev.kind, ev.t_ns, ev.session_uid, ev.detail)

    def _send_events(self) -> None:
        room = min(MAX_IN_FLIGHT - len(self._in_flight), int(self._send_credit))
        if room <= 0 or self._events is None:
            return
        after = self._sent_upto
        events = self._query(lambda r: r.pending(after, room))
        if not events:
            counted = self._query(lambda r: r.queued())
            if counted is not None:
                self.counts["events_pending"] = counted
            return
        acked = set(self._acked)
        for ev in events:
            if ev.id in acked:
                self._sent_upto = ev.id
                continue
            mid = self._send(self._t["events"], self._event_doc(ev), qos=1, retain=False)
            if mid is None:
                return  # paho's queue is full or the link dropped: the outbox keeps it
            self._in_flight[mid] = ev.id
            self._sent_upto = ev.id
            self._send_credit -= 1.0

    def _flush_acked(self) -> None:
        if not self._acked or self._events is None:
            return
        ids, self._acked = self._acked, []
        try:
            self._events.mark_delivered(ids)
        except Exception as exc:  # the store is busy or in error: they stay in the outbox, acked
            log.warning("mqtt: %d delivered events not yet marked (%s); retrying", len(ids), exc)
            self._acked = ids + self._acked
            return
        self.counts["events_delivered"] += len(ids)

    # -- the commands thread -----------------------------------------------------------------------------------
    def _run_commands(self) -> None:
        while not self._stop.is_set():
            try:
                cmd = self._commands.get(timeout=0.2)
            except queue.Empty:
                continue
            self.counts["commands"] += 1
            rid = cmd.request_id
            if rid is not None and rid in self._answers:
                log.info("mqtt: request %s repeated: its first answer again, nothing run", rid)
                self._publish_result(rid, self._answers[rid])
                continue
            answer = self._run_one(cmd)
            if rid is not None:
                self._answers[rid] = answer
                while len(self._answers) > REMEMBERED_REQUESTS:
                    self._answers.popitem(last=False)
            self._publish_result(rid, answer)
            if cmd.action != "status":
                self._last_status = None  # the status changed: publish it now, not at the next heartbeat

    def _run_one(self, cmd: Command) -> dict:
        try:
            answer = dict(self._answer(cmd))
        except AgmaError as exc:
            answer = {"ok": False, "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__}
        except Exception as exc:
            log.exception("mqtt: command %s failed", cmd.action)
            answer = {"ok": False, "error": f"internal error: {type(exc).__name__}"}
        try:
            json.loads(encode_answer(answer))  # the control socket's own rules for what an answer may hold
        except (TypeError, ValueError):
            answer = {"ok": False, "error": "internal error: the answer could not be encoded"}
        return answer

