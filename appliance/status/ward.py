"""The monitoring desk's model of every box on the broker (`agma ward`): a pure core and a thin shell.

``WardView`` (pure: no I/O, no clock, no threads) is fed each message the desk receives —
``feed(box_id, name, payload, retained, arrival_mono)`` for the topics ``availability`` and
``status`` of status/topics.py — and answers ``rows(now_mono)``: one ``Row`` per box, sorted by
box id. Ages are measured by *arrival at the desk* (the caller's monotonic clock), never by the
boxes' clocks, which may be wrong. A box is

- **offline** when its retained availability says ``offline`` (its Last Will, or a clean shutdown);
- **stale** when no readable status has arrived for ``STALE_HEARTBEATS`` × its ``heartbeat_s`` (read
  from its own status; ``DEFAULT_HEARTBEAT_S`` until one says), or none has arrived at all.

Anything may be published on a broker: a payload that is not UTF-8, not JSON, too deep, too large,
not an object or with a field of the wrong type never raises here; the row carries a ``problem``
saying what was wrong, and the fields that could be read. An empty retained payload deletes what
the broker kept: the box's status (or availability) is forgotten, the row goes when both are.

``Ward`` is the shell: one MQTT connection (status/mqtt.py ``Link``) subscribed to
``<prefix>/+/availability`` and ``<prefix>/+/status``, pumped by the caller's thread into a
``WardView``; ``snapshot()`` for ``agma ward --json``: it waits until connected, then until the
retained messages the broker sends a new subscriber stop arriving, and returns the rows as dicts.
"""
from __future__ import annotations

import json
import math
import os
import queue
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import AgmaError
from .mqtt import Incoming, Link, LinkEvent, Security
from .topics import split_topic

#: A box is stale after this many of its heartbeats without a status.
STALE_HEARTBEATS = 3
#: heartbeat_s assumed until a box's status says its own (mqtt.heartbeat_s's default).
DEFAULT_HEARTBEAT_S = 10.0
#: A status larger than this is not read (a box's is about 1 KiB).
MAX_STATUS_BYTES = 64 * 1024
#: How much of a bad value a problem quotes.
_QUOTE = 40
#: The exit status of `agma ward` when the broker cannot be reached or refuses it (EX_UNAVAILABLE).
EXIT_UNAVAILABLE = 69


class WardError(AgmaError):
    """The broker cannot be reached, refuses the desk, or does not answer (exit 69)."""

    exit_code = EXIT_UNAVAILABLE


@dataclass(frozen=True)
class Row:
    """One box as the desk shows it. Missing = None.

    elapsed_s: the session's length (s); fps: frames per second; drops: dropped frames of the
    session; disk_free_mb: MiB free beside the box's database; age_s: seconds since its last
    readable status arrived at the desk (None: none yet); heartbeat_s: the box's own (s);
    availability: online / offline / None (never said); error: the box's own error text;
    problem: what the desk could not read of this box's messages; updated_at: the box's clock
    (ISO 8601), shown, never used for the age; retained: the last status came as the broker's
    retained copy (sent to the desk when it subscribed), not live from the box."""

    box: str
    bed: str | None = None
    state: str | None = None
    health: str | None = None
    session: str | None = None
    elapsed_s: float | None = None
    fps: float | None = None
    drops: int | None = None
    camera: str | None = None
    disk_free_mb: float | None = None
    age_s: float | None = None
    availability: str | None = None
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    stale: bool = True
    offline: bool = False
    error: str | None = None
    last_event: str | None = None
    problem: str | None = None
    updated_at: str | None = None
    retained: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: status payload key -> (Row field, kind): what the desk reads of a box's status.
_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("bed_label", "bed", "text"), ("state", "state", "text"), ("health", "health", "text"),
    ("session_id", "session", "text"), ("elapsed_s", "elapsed_s", "number"), ("fps", "fps", "number"),
    ("dropped_frames", "drops", "int"), ("camera", "camera", "text"), ("disk_free_mb", "disk_free_mb", "number"),
    ("error", "error", "text"), ("updated_at", "updated_at", "text"),
)


@dataclass
class _Box:
    fields: dict[str, Any] = field(default_factory=dict)  # Row field -> value, from the last readable status
    status_at: float | None = None  # arrival (the caller's monotonic clock) of the last readable status
    retained: bool = False
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    availability: str | None = None
    problems: dict[str, str] = field(default_factory=dict)  # topic name -> what was wrong with its last message


def _quote(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= _QUOTE else text[:_QUOTE - 4] + '..."'


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _value(doc: Mapping[str, Any], key: str, kind: str) -> tuple[Any, str | None]:
    """(the value of doc[key] when it is of ``kind``, else None; what was wrong, or None)."""
    v = doc.get(key)
    if v is None:
        return None, None
    if kind == "text":
        return (v, None) if isinstance(v, str) else (None, f"{key} is a {_json_type(v)}, not a string")
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None, f"{key} is a {_json_type(v)}, not a number"
    if not math.isfinite(v):
        return None, None  # NaN written by a careless publisher: missing
    if kind == "int":
        return (int(v), None) if float(v).is_integer() else (None, f"{key} is not a whole number")
    return float(v), None


def _last_event(v: Any) -> tuple[str | None, str | None]:
    """'<kind> <time>' of the status's last_event object."""
    if v is None:
        return None, None
    if not isinstance(v, dict):
        return None, f"last_event is a {_json_type(v)}, not an object"
    kind, when = v.get("kind"), v.get("time")
    if not isinstance(kind, str):
        return None, "last_event has no kind"
    return (f"{kind} {when}" if isinstance(when, str) else kind), None


class WardView:
    """The desk's model (see the module's doc): ``feed`` each message, read ``rows(now_mono)``."""

    def __init__(self) -> None:
        self._boxes: dict[str, _Box] = {}

    def feed(self, box_id: str, name: str, payload: bytes, retained: bool, arrival_mono: float) -> None:
        """One message from ``<prefix>/<box_id>/<name>``; names other than availability and status are ignored."""
        if name not in ("availability", "status"):
            return
        payload = bytes(payload)
        box = self._boxes.get(box_id)
        if not payload:  # an empty retained message: the broker forgot what it kept
            if box is not None:
                if name == "availability":
                    box.availability = None
                else:
                    box.fields, box.status_at, box.retained = {}, None, False
                box.problems.pop(name, None)
                if box.availability is None and box.status_at is None and not box.problems:
                    del self._boxes[box_id]
            return
        if box is None:
            box = self._boxes[box_id] = _Box()
        if name == "availability":
            self._availability(box, payload)
        else:
            self._status(box_id, box, payload, retained, arrival_mono)

    @staticmethod
    def _availability(box: _Box, payload: bytes) -> None:
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            box.problems["availability"] = "availability: not UTF-8 text"
            return
        if text in ("online", "offline"):
            box.availability = text
            box.problems.pop("availability", None)
        else:
            box.problems["availability"] = f"availability: {_quote(text)}, neither online nor offline"

    @staticmethod
    def _status(box_id: str, box: _Box, payload: bytes, retained: bool, arrival: float) -> None:
        if len(payload) > MAX_STATUS_BYTES:
            box.problems["status"] = f"status: {len(payload)} bytes, more than {MAX_STATUS_BYTES} (not read)"
            return
        try:
            doc = json.loads(payload.decode("utf-8"))
        except UnicodeDecodeError:
            box.problems["status"] = "status: not UTF-8"
            return
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
            box.problems["status"] = "status: not JSON"
            return
        if not isinstance(doc, dict):
            box.problems["status"] = f"status: a JSON {_json_type(doc)}, not an object"
            return
        wrong: list[str] = []
        fields: dict[str, Any] = {}
        for key, attr, kind in _FIELDS:
            fields[attr], why = _value(doc, key, kind)
            if why:
                wrong.append(why)
        fields["last_event"], why = _last_event(doc.get("last_event"))
        if why:
            wrong.append(why)
        hb, why = _value(doc, "heartbeat_s", "number")
        if why or hb is None or hb <= 0:
            wrong.append(why or "heartbeat_s missing or not above 0")
            hb = DEFAULT_HEARTBEAT_S
        said = doc.get("box_id")
        if said is not None and said != box_id:
            wrong.append(f"box_id {_quote(said)} on the topic of {_quote(box_id)}")
        box.fields, box.status_at, box.heartbeat_s, box.retained = fields, arrival, hb, bool(retained)
        if wrong:
            box.problems["status"] = "status: " + "; ".join(wrong)
        else:
            box.problems.pop("status", None)

    def boxes(self) -> list[str]:
        return sorted(self._boxes)

    def rows(self, now_mono: float) -> list[Row]:
        """One Row per box, sorted by box id; age and staleness as of ``now_mono`` (the feed's clock)."""
        out = []
        for box_id in sorted(self._boxes):
            b = self._boxes[box_id]
            age = None if b.status_at is None else round(max(0.0, now_mono - b.status_at), 3)
            stale = age is None or age > STALE_HEARTBEATS * b.heartbeat_s
            problem = "; ".join(b.problems[k] for k in ("availability", "status") if k in b.problems) or None
            out.append(Row(box=box_id, **b.fields, age_s=age,
                           availability=b.availability, heartbeat_s=b.heartbeat_s, stale=stale,
                           offline=b.availability == "offline", problem=problem, retained=b.retained))
        return out


class Ward:
    """The desk's MQTT connection feeding a WardView (see the module's doc). The caller's thread pumps it.

    observer: called for every box message as (box_id, name, payload, retained, arrival_wall_ns) —
    `agma bench fleet` measures the status latency with it."""

    def __init__(self, host: str, port: int, prefix: str, security: Security = Security(),
                 client_id: str | None = None, keepalive_s: int = 30,
                 observer: Callable[[str, str, bytes, bool, int], None] | None = None) -> None:
        self.host, self.port, self.prefix = host, port, prefix
        self.view = WardView()
        self.observer = observer
        self._inbox: queue.Queue = queue.Queue(maxsize=100_000)
        cid = client_id or f"agma-ward-{os.getpid()}-{secrets.token_hex(3)}"
        self._link = Link("ward", host, port, cid, security, keepalive_s, self._inbox, will=None,
                          subscriptions=(f"{prefix}/+/availability", f"{prefix}/+/status"))
        self.connected = False
        self.last_error: str | None = None
        self.messages = 0
        self._connected_at: float | None = None
        self._retained_at: float | None = None

    def start(self) -> None:
        """Start connecting (MqttError when paho or a configured file is missing); returns at once."""
        self._link.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        self._link.stop(timeout_s)

    def pump(self, timeout_s: float) -> None:
        """Take what the connection received for ``timeout_s`` seconds (at least one look) into the view."""
        end = time.monotonic() + max(0.0, timeout_s)
        while True:
            left = end - time.monotonic()
            try:
                item = self._inbox.get(timeout=left) if left > 0 else self._inbox.get_nowait()
            except queue.Empty:
                return
            self._take(item)

    def _take(self, item) -> None:
        now = time.monotonic()
        if isinstance(item, LinkEvent):
            if item.kind == "connected":
                self.connected, self.last_error, self._connected_at = True, None, now
            elif item.kind in ("failed", "refused"):
                self.connected, self.last_error = False, item.detail
            elif item.kind == "disconnected":
                self.last_error = (f"{self.host}:{self.port}: disconnected ({item.detail})" if self.connected or
                                   self._connected_at is not None else
                                   f"cannot connect to {self.host}:{self.port}: the connection closed before the "
                                   f"broker answered ({item.detail}); is it an MQTT broker?")
                self.connected = False
            return
        if not isinstance(item, Incoming):
            return
        where = split_topic(self.prefix, item.topic)
        if where is None:
            return
        box_id, name = where
        self.messages += 1
        if item.retain:
            self._retained_at = now
        if self.observer is not None:
            self.observer(box_id, name, item.payload, item.retain, time.time_ns())
        self.view.feed(box_id, name, item.payload, item.retain, now)

    def wait_connected(self, timeout_s: float = 15.0) -> None:
        """Return once the broker accepted the desk; WardError at the first failure or after timeout_s."""
        end = time.monotonic() + timeout_s
        while not self.connected:
            if self.last_error is not None:
                raise WardError(self.last_error)
            left = end - time.monotonic()
            if left <= 0:
                raise WardError(f"{self.host}:{self.port}: no answer from the broker within {timeout_s:g} s")
            self.pump(min(left, 0.05))

    def snapshot(self, settle_s: float = 0.5, max_s: float = 5.0, connect_timeout_s: float = 15.0) -> list[dict]:
        """Connect, take the retained messages until none came for settle_s (max_s at most after
        connecting), -> the rows as dicts (``agma ward --json``)."""
        self.wait_connected(connect_timeout_s)
        while True:
            now = time.monotonic()
            quiet_since = max(self._connected_at or now, self._retained_at or 0.0)
            if now - quiet_since >= settle_s or now - (self._connected_at or now) >= max_s:
                break
            self.pump(min(0.05, settle_s))
        return [r.to_dict() for r in self.view.rows(time.monotonic())]

    def rows(self) -> list[Row]:
        return self.view.rows(time.monotonic())
