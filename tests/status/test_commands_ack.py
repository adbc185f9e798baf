"""`ack` is a control-socket command only: MQTT can never make the box delete research data.

Why: an acknowledged dump lets retention delete the session from the box (store.keep_days), so
only someone on the box (`agma dump --ack`, through the local socket) may say a dump was pulled;
the monitoring desk's MQTT commands keep their vocabulary, and the MQTT cmd schema stays as it is.
"""
from __future__ import annotations

import json

from appliance.status.commands import Command, CommandError, parse_command
from tests.mqtt_schemas import schemas


def parse(obj, origin="socket"):
    return parse_command(json.dumps(obj).encode(), origin=origin)


def test_the_socket_takes_ack_with_a_session_id():
    assert parse({"action": "ack", "session_id": "box-3-20261125T094050Z-857b", "request_id": "r"}) == \
        Command("ack", "r", None, None, "socket", session_id="box-3-20261125T094050Z-857b")


def test_ack_needs_a_printable_session_id_and_nothing_else_takes_one():
    for obj, words in (({"action": "ack"}, "ack needs session_id"),
                       ({"action": "ack", "session_id": None}, "ack needs session_id"),
                       ({"action": "ack", "session_id": 7}, "session_id must be a string"),
                       ({"action": "ack", "session_id": ""}, "session_id is empty"),
                       ({"action": "ack", "session_id": "x" * 65}, "longer than 64"),
                       ({"action": "ack", "session_id": "a\nb"}, "not printable"),
                       ({"action": "stop", "session_id": "b-1"}, "session_id is only accepted with ack, not with stop"),
                       ({"action": "ack", "session_id": "b-1", "bed_label": "Bed 1"}, "bed_label is only accepted")):
        got = parse(obj)
        assert isinstance(got, CommandError) and words in got.error, (obj, got)


def test_mqtt_refuses_ack_and_session_id():
    got = parse({"action": "ack", "session_id": "b-1", "request_id": "d"}, origin="mqtt")
    assert isinstance(got, CommandError) and got.error.startswith('unknown key "session_id"') and got.request_id == "d"
    got = parse({"action": "ack"}, origin="mqtt")
    assert isinstance(got, CommandError) and got.error == 'unknown action "ack"; known actions: start, stop, status'
    assert "ack" not in schemas()["cmd"]["properties"]["action"]["enum"]
    assert "session_id" not in schemas()["cmd"]["properties"]
