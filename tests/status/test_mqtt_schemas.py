"""Every MQTT payload has a JSON Schema that says what the code builds, and the builders satisfy it.

Why: the monitoring desk's software is written against schemas/mqtt/, so the schemas must follow
the code's one place for each fact: the status schema requires every key of the `agma status`
document plus the MQTT extras, the events schema enumerates exactly appliance/events.py's kinds,
the stats schema the system keys. Payloads built by status/payloads.py from a real Health
snapshot validate; one with a key missing or of the wrong type does not (so the check can fail).
The daemon tests (tests/runtime/test_daemon_mqtt_*.py) validate everything a real daemon publishes.
"""
from __future__ import annotations

import math

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from appliance import config
from appliance.config import BOX_ID_MAX_CHARS
from appliance.events import EVENT_KINDS
from appliance.runtime.health import STATUS_KEYS, Health, status_document
from appliance.status import payloads
from appliance.status.system_stats import SYSTEM_KEYS, read_system
from appliance.status.topics import TOPICS
from tests.mqtt_schemas import _registry, schemas, validate


def _health(**kw) -> Health:
    base = dict(state="recording", health="degraded", error="camera lost", session_id="b-1", bed_label="Bed 3",
                frames=42, fps=29.97, dropped_frames=1, elapsed_s=1.4, camera="lost", engine="ready", store="ok",
                disk_free_mb=float("nan"), source_opens=1, engine_loads=1, ready=False, stalled=("inference",),
                heartbeat_age_s={"inference": 3.5}, queue_depths={"frames": 4}, mqtt="connected")
    base.update(kw)
    return Health(**base)


def _status(h: Health, ratio=0.93, event=True) -> dict:
    ev = payloads.event_payload("box-1", 7, "camera_lost", 1_700_000_000_123_456_789, "b-1", "no frame for 1.2 s")
    return payloads.status_payload(status_document(h), box_id="box-1", software_version="0.1.0", heartbeat_s=10.0,
                                   now_ns=1_700_000_001_000_000_000, session_started_ns=1_699_999_990_000_000_000,
                                   valid_joint_ratio=ratio, last_event=ev if event else None)


def test_every_schema_is_valid_2020_12_with_an_id():
    assert set(schemas()) == {"common"} | {t.schema for t in TOPICS if t.schema}
    for name, s in schemas().items():
        Draft202012Validator.check_schema(s)
        assert s["$id"].endswith(f"/{name}.schema.json")


def _refs(node) -> list[str]:
    """Every "$ref" value anywhere in a schema."""
    if isinstance(node, dict):
        return ([node["$ref"]] if isinstance(node.get("$ref"), str) else []) + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_ref_resolves_among_the_files():
    registry = _registry()
    assert sum(len(_refs(s)) for s in schemas().values()) > 10
    for name, s in schemas().items():
        resolver = registry.resolver(base_uri=s["$id"])
        for ref in _refs(s):
            resolver.lookup(ref)  # raises Unresolvable
    with pytest.raises(Unresolvable):  # so the check can fail
        registry.resolver(base_uri=schemas()["status"]["$id"]).lookup("common.schema.json#/$defs/no_such_part")


def test_status_requires_every_field_the_code_publishes():
    assert schemas()["status"]["required"] == list(STATUS_KEYS) + list(payloads.STATUS_EXTRA_KEYS)


def test_box_id_pattern_is_the_configs():
    ok = Draft202012Validator({"$ref": schemas()["common"]["$id"] + "#/$defs/box_id"}, registry=_registry())
    for value in ("nicu-03", "A", "b.1_x", "a" * BOX_ID_MAX_CHARS, "a" * (BOX_ID_MAX_CHARS + 1), "-a", ".a", "a/b",
                  "a b", "", "bed#1", "a+", "\u00e4"):
        assert ok.is_valid(value) == (config.KEY_BY_PATH["box.id"].check(value) is None), value


def test_event_kinds_and_system_keys_are_the_codes():
    assert schemas()["common"]["$defs"]["event_kind"]["enum"] == list(EVENT_KINDS)
    assert set(SYSTEM_KEYS) <= set(schemas()["stats"]["required"])


def test_built_payloads_validate():
    validate("status", _status(_health()))
    validate("status", _status(_health(state="idle", session_id=None, bed_label=None), ratio=math.nan, event=False))
    system, _ = read_system(None)
    validate("stats", payloads.stats_payload(box_id="box-1", now_ns=1_700_000_000_000_000_000, system=system,
                                             latency_ms={"pose": {"p50": 3.0, "p95": math.nan, "p99": 9.0}},
                                             dropped_frames=0, queue_depths={"frames": 0}, ring_overruns=0,
                                             ring_dropped=0, mqtt={"published": 3, "dropped": 0}))
    for kind in EVENT_KINDS:
        validate("events", payloads.event_payload("box-1", 1, kind, 5, None, None))
    validate("cmd", {"action": "start", "request_id": "r", "bed_label": "Bed 1", "sent_at": 1.5})
    validate("cmd_result", payloads.cmd_result("r", {"ok": True, "session_id": "b-1"}))
    validate("cmd_result", payloads.cmd_result(None, {"ok": False, "error": "not JSON"}))


@pytest.mark.parametrize("name, bad", [
    ("status", lambda d: d.pop("frames")),
    ("status", lambda d: d.update(frames="42")),
    ("status", lambda d: d.update(updated_at="yesterday")),
    ("status", lambda d: d.update(patient="x")),
])
def test_a_wrong_status_is_rejected(name, bad):
    doc = _status(_health())
    bad(doc)
    with pytest.raises(jsonschema.ValidationError):
        validate(name, doc)


def test_wrong_events_and_results_are_rejected():
    with pytest.raises(jsonschema.ValidationError):
        validate("events", payloads.event_payload("box-1", 1, "camera_lots", 5, None, None))
    with pytest.raises(jsonschema.ValidationError):
        validate("cmd_result", {"request_id": "r", "ok": False})  # a refusal says why
    with pytest.raises(jsonschema.ValidationError):
        validate("cmd", {"action": "reboot"})
