"""The MQTT topics of a box: the one table the sink, `agma ward`, the schemas and docs/mqtt.md use.

Every topic is ``<mqtt.prefix>/<box.id>/<name>``. ``docs/mqtt.md``'s topic table is generated
from TOPICS (``docs_table``, kept equal by tests/status/test_mqtt_docs_in_sync.py) and each JSON payload has
its JSON Schema in ``schemas/mqtt/<schema>.schema.json`` (tests/status/test_mqtt_schemas.py).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """One topic: ``name`` under <prefix>/<box_id>/; who publishes it; QoS, retained; its schema file
    stem in schemas/mqtt/ (None: plain text); what it carries and when."""

    name: str
    publisher: str  # "box" or "desk"
    qos: int
    retained: bool
    schema: str | None
    meaning: str


TOPICS: tuple[Topic, ...] = (
    Topic("availability", "box", 1, True, None,
          "`online` on every (re)connect; `offline` as the Last Will (the broker sends it when the box vanishes) "
          "and on a clean shutdown."),
    Topic("status", "box", 1, True, "status",
          "The box now: the `agma status` document plus box_id, schema_version, started_at, valid_joint_ratio, "
          "software_version, heartbeat_s, updated_at and last_event. On every change, every mqtt.heartbeat_s and "
          "on every (re)connect."),
    Topic("stats", "box", 0, False, "stats",
          "Every mqtt.stats_s: temperatures, power mode, GPU load, CPU, memory, per-stage latency p50/p95/p99, "
          "drops, queue depths, ring overruns, MQTT queue drops."),
    Topic("events", "box", 1, False, "events",
          "Each `events` row (appliance/events.py kinds) once committed, with its event id; queued in the database "
          "until the broker acknowledges it, so an outage or a restart loses none (a consumer deduplicates by "
          "box_id and event_id: QoS 1 may repeat)."),
    Topic("cmd", "desk", 1, False, "cmd",
          "A command to the box: start (optional bed_label), stop or status, with a request_id. Retained commands "
          "are ignored; sent_at older than mqtt.cmd_max_age_s is refused."),
    Topic("cmd/result", "box", 1, False, "cmd_result",
          "The answer to each command read from `cmd`: request_id, ok, session_id or error. A repeated request_id "
          "gets the first answer again and is not executed twice."),
)
TOPIC_BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}
#: The version of the JSON payloads' layout (every payload carries it as schema_version).
PAYLOAD_VERSION = 1


def topic(prefix: str, box_id: str, name: str) -> str:
    """The full topic of ``name`` (a TOPICS name) for one box."""
    if name not in TOPIC_BY_NAME:
        raise KeyError(f"not a topic: {name}")
    return f"{prefix}/{box_id}/{name}"


def split_topic(prefix: str, full: str) -> tuple[str, str] | None:
    """<prefix>/<box_id>/<name> -> (box_id, name); None when it is not a box topic under prefix."""
    head = prefix + "/"
    if not full.startswith(head):
        return None
    box_id, sep, name = full[len(head):].partition("/")
    if not sep or not box_id or name not in TOPIC_BY_NAME:
        return None
    return box_id, name


def docs_table() -> str:
    """The Markdown table of docs/mqtt.md (between its generated-table markers)."""
    lines = ["| topic | from | QoS | retained | payload | what and when |", "|---|---|---|---|---|---|"]
    for t in TOPICS:
        payload = f"JSON, `schemas/mqtt/{t.schema}.schema.json`" if t.schema else "text"
        lines.append(f"| `<prefix>/<box_id>/{t.name}` | {t.publisher} | {t.qos} | {'yes' if t.retained else 'no'} "
                     f"| {payload} | {t.meaning} |")
    return "\n".join(lines)
