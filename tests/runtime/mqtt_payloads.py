"""Every JSON payload a daemon published, validated against its schema (schemas/mqtt/)."""
from __future__ import annotations

import json

from appliance.status.topics import TOPIC_BY_NAME
from tests.mqtt_schemas import validate


def validate_all(messages, box_id: str, prefix: str = "agma") -> int:
    """messages: (topic, payload bytes, retain, t) as tests/runtime/mqtt_daemon.Watcher keeps them;
    -> how many payloads were validated (every JSON topic of this box; commands the test sent too)."""
    n = 0
    for topic, payload, _retain, _t in messages:
        head = f"{prefix}/{box_id}/"
        if not topic.startswith(head) or not payload:
            continue
        t = TOPIC_BY_NAME.get(topic[len(head):])
        if t is None or t.schema is None or t.name == "cmd":  # the test's own commands include invalid ones
            continue
        validate(t.schema, json.loads(payload))
        n += 1
    assert n > 0, "no payload to validate"
    return n
