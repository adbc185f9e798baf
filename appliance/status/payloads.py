"""The JSON payloads of the MQTT topics: plain values in, a JSON-ready dict out. Pure: no I/O, no clock.

Each builder's output validates against its schema in schemas/mqtt/ (tests/status/
test_mqtt_schemas.py validates every payload a real daemon publishes, too). Times are given in ns
since the Unix epoch (the box's wall clock) and written both as ``*_ns`` integers where a consumer
computes with them and as ISO 8601 UTC text where a person reads them. NaN becomes null (JSON has
no NaN). No payload carries a patient identifier: a bed label is a place.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from .topics import PAYLOAD_VERSION

#: The status fields a change of which republishes the status at once (the counters -- frames,
#: fps, elapsed_s, disk_free_mb -- are refreshed every mqtt.heartbeat_s instead).
STATUS_CHANGE_KEYS = ("state", "health", "error", "session_id", "bed_label", "camera", "engine", "store", "ready",
                      "last_end_reason", "stalled", "mqtt")
#: Fields of the status payload besides the `agma status` document's (the schema requires all).
STATUS_EXTRA_KEYS = ("box_id", "schema_version", "started_at", "valid_joint_ratio", "software_version", "heartbeat_s",
                     "updated_at", "last_event")


def iso(t_ns: int | None) -> str | None:
    """ns since the Unix epoch -> '2026-12-02T12:34:56.789Z' (UTC, milliseconds); None stays None."""
    if t_ns is None:
        return None
    dt = datetime.fromtimestamp(t_ns / 1e9, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def from_iso(text: str) -> int:
    """The inverse of ``iso`` (to the millisecond): ISO 8601 UTC text -> ns since the Unix epoch."""
    dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(round(dt.timestamp() * 1000)) * 1_000_000


def clean(value: Any) -> Any:
    """A value made JSON-safe: non-finite floats -> None, tuples -> lists, mappings recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    return value


def event_payload(box_id: str, event_id: int, kind: str, t_ns: int, session_uid: str | None,
                  detail: str | None) -> dict:
    """One events row as the events topic carries it."""
    return {"schema_version": PAYLOAD_VERSION, "box_id": box_id, "event_id": int(event_id), "kind": kind,
            "t_ns": int(t_ns), "time": iso(t_ns), "session_id": session_uid, "detail": detail}


def status_payload(doc: Mapping[str, Any], *, box_id: str, software_version: str, heartbeat_s: float,
                   now_ns: int, session_started_ns: int | None, valid_joint_ratio: float,
                   last_event: Mapping[str, Any] | None) -> dict:
    """The retained status: ``doc`` is the `agma status` document (runtime/health.py status_document,
    every STATUS_KEYS key); valid_joint_ratio NaN before the session's first frame; last_event an
    ``event_payload`` (the latest event, delivered or not), None when the database has none."""
    out = {k: clean(v) for k, v in doc.items() if k != "ok"}
    out.update({
        "box_id": box_id, "schema_version": PAYLOAD_VERSION, "started_at": iso(session_started_ns),
        "valid_joint_ratio": clean(round(valid_joint_ratio, 4) if math.isfinite(valid_joint_ratio) else valid_joint_ratio),
        "software_version": software_version, "heartbeat_s": heartbeat_s, "updated_at": iso(now_ns),
        "last_event": dict(last_event) if last_event is not None else None,
    })
    return out


def status_changed(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> bool:
    """Whether the status changed enough to be republished before the next heartbeat."""
    if previous is None:
        return True
    return any(previous.get(k) != current.get(k) for k in STATUS_CHANGE_KEYS)


def stats_payload(*, box_id: str, now_ns: int, system: Mapping[str, Any], latency_ms: Mapping[str, Mapping[str, float]],
                  dropped_frames: int, queue_depths: Mapping[str, int], ring_overruns: int, ring_dropped: int,
                  mqtt: Mapping[str, int]) -> dict:
    """The stats topic: ``system`` from status/system_stats.py read_system; latency per stage
    {"p50", "p95", "p99"} in ms (NaN -> null before the first frame); mqtt: the sink's own counts
    (published, dropped, events_delivered, events_pending, reconnects)."""
    return {"schema_version": PAYLOAD_VERSION, "box_id": box_id, "updated_at": iso(now_ns), **clean(system),
            "latency_ms": clean(latency_ms), "dropped_frames": int(dropped_frames),
            "queue_depths": clean(queue_depths), "ring_overruns": int(ring_overruns), "ring_dropped": int(ring_dropped),
            "mqtt": clean(mqtt)}


def cmd_result(request_id: str | None, answer: Mapping[str, Any]) -> dict:
    """The answer to one command: {"request_id", "ok", "session_id"?, "error"?} (status: "status" too)."""
    out: dict[str, Any] = {"request_id": request_id, "ok": bool(answer.get("ok"))}
    for key in ("session_id", "error"):
        if answer.get(key) is not None:
            out[key] = answer[key]
    return out
