"""The command parser's answers, one example per rule: what is accepted, and each refusal with its reason.

The same parser serves the control socket and MQTT, so its refusals are the contract a monitor or
a script sees: one line naming what is wrong, the request id echoed whenever it could be read,
and never an exception.
"""
from __future__ import annotations

import json

import pytest

from appliance.status.commands import (ACTIONS, MAX_COMMAND_BYTES, MAX_JSON_DEPTH, Command, CommandError,
                                       parse_command)


def parse(obj, origin="socket"):
    return parse_command(json.dumps(obj).encode(), origin=origin)


def refused(payload: bytes | object) -> CommandError:
    result = parse_command(payload if isinstance(payload, bytes) else json.dumps(payload).encode())
    assert isinstance(result, CommandError), result
    assert result.error and "\n" not in result.error and len(result.error) < 200
    return result


def test_each_action_is_accepted_with_its_optional_keys():
    """A minimal command, and one with every optional key, parse to exactly what they say."""
    for action in ACTIONS:
        assert parse({"action": action}) == Command(action, None, None, None, "socket")
    got = parse({"action": "start", "request_id": "desk-7/42", "bed_label": "NICU 3 bay 2", "sent_at": 1_700_000_000},
                origin="mqtt")
    assert got == Command("start", "desk-7/42", "NICU 3 bay 2", 1_700_000_000.0, "mqtt")
    assert isinstance(got.sent_at, float)


def test_null_means_absent_for_optional_keys():
    """JSON clients often write null for "not given": it is the same as leaving the key out."""
    assert parse({"action": "stop", "request_id": None, "bed_label": None, "sent_at": None}) == \
        Command("stop", None, None, None)


def test_whitespace_and_unicode_labels():
    """Whitespace around the document is JSON's own; a label may be any printable text (a ward's language)."""
    assert parse_command(b'  {"action": "status"}\r\n') == Command("status", None, None, None)
    assert parse({"action": "start", "bed_label": "Néonat — lit 4"}).bed_label == "Néonat — lit 4"


@pytest.mark.parametrize("payload, words", [
    (b"", "empty command"),
    (b"   \n", "empty command"),
    (b"status", "not JSON"),
    (b'{"action": "start"', "not JSON"),
    (b"\xff\xfe{}", "not valid UTF-8 (byte 0)"),
    (b'{"action": "st\xc3"}', "not valid UTF-8"),
    (b'{"action": "stop", "sent_at": NaN}', "NaN is not a JSON number"),
    (b'{"action": "stop", "sent_at": -Infinity}', "-Infinity is not a JSON number"),
    (b'{"action": "start", "action": "stop"}', 'key "action" appears twice'),
    (b'["start"]', "must be a JSON object, got an array"),
    (b'"start"', "must be a JSON object, got a string"),
    (b"null", "must be a JSON object, got null"),
    (b"17", "must be a JSON object, got a number"),
])
def test_malformed_payloads_are_refused(payload, words):
    """Anything that is not one JSON object in UTF-8 is refused, saying which of those it is not."""
    assert words in refused(payload).error


def test_oversized_payload_refused_by_size():
    """Over 4 KiB is refused before it is decoded, whatever it holds; exactly 4 KiB is still read."""
    pad = MAX_COMMAND_BYTES - len(b'{"action":"status"}')
    assert parse_command(b'{"action":"status"}' + b" " * pad) == Command("status", None, None, None)
    error = refused(b'{"action":"status"}' + b" " * (pad + 1))
    assert error.error == f"command is {MAX_COMMAND_BYTES + 1} bytes; the limit is {MAX_COMMAND_BYTES}"
    assert error.request_id is None


def test_deep_nesting_refused_before_json_recursion():
    """2,000 levels fit in 4 KiB and would exhaust json.loads' recursion (RecursionError, not ValueError):
    the byte scan refuses them first. Brackets inside strings do not count; the limit itself is accepted."""
    deep = b'{"action":"stop","x":' + b"[" * 2000 + b"]" * 2000 + b"}"
    assert len(deep) <= MAX_COMMAND_BYTES
    with pytest.raises(RecursionError):
        json.loads(deep)
    assert "deeper than 32 levels" in refused(deep).error
    at_limit = b'{"action":"stop","request_id":"r","x":' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    assert "unknown key" in refused(at_limit).error  # got past the depth scan and json.loads
    brackets = "[" * 40 + "{" * 20 + "\\\""  # 60 brackets and an escaped quote inside a string: no depth
    assert parse({"action": "status", "request_id": brackets}) == Command("status", brackets, None, None)


def test_unknown_keys_are_refused_not_ignored():
    """A misspelt key (bed_lable) silently dropped would start a session without its label: refuse, naming it."""
    error = refused({"action": "start", "bed_lable": "NICU 3", "request_id": "r1"})
    assert error.error.startswith('unknown key "bed_lable"') and "action, request_id, bed_label, sent_at" in error.error
    assert error.request_id == "r1"
    assert "(and 1 more)" in refused({"action": "stop", "a": 1, "b": 2}).error


@pytest.mark.parametrize("obj, words", [
    ({}, "missing action"),
    ({"action": None}, "missing action"),
    ({"action": "Start"}, 'unknown action "Start"; known actions: start, stop, status'),
    ({"action": "shutdown"}, 'unknown action "shutdown"'),
    ({"action": 1}, "action must be a string, got a number"),
    ({"action": ["start"]}, "action must be a string, got an array"),
    ({"action": "start", "bed_label": 3}, "bed label must be a string, got a number"),
    ({"action": "stop", "bed_label": "NICU 3"}, "bed_label is only accepted with start, not with stop"),
    ({"action": "status", "bed_label": "NICU 3"}, "bed_label is only accepted with start, not with status"),
    ({"action": "stop", "sent_at": "1700000000"}, "sent_at must be a number"),
    ({"action": "stop", "sent_at": True}, "sent_at must be a number of seconds since the epoch, got a boolean"),
    ({"action": "stop", "sent_at": -1}, "finite, non-negative"),
    ({"action": "stop", "sent_at": 1e400}, "finite, non-negative"),  # json.dumps writes Infinity: refused as such
])
def test_wrong_values_are_refused(obj, words):
    """Each key's type and meaning is checked; the error names the key and what it should be."""
    payload = json.dumps(obj).encode() if obj.get("sent_at") != 1e400 else b'{"action":"stop","sent_at":1e400}'
    assert words in refused(payload).error


def test_integer_too_large_for_a_float_is_refused_not_raised():
    """float(10**4000) raises OverflowError: a 4,000-digit sent_at must still be a refusal."""
    error = refused(b'{"action":"stop","request_id":"big","sent_at":' + b"9" * 4000 + b"}")
    assert "finite, non-negative" in error.error and error.request_id == "big"


def test_request_id_is_echoed_once_readable():
    """Every refusal after the request id was read carries it, so the desk can match the answer."""
    assert refused({"action": "jump", "request_id": "abc"}).request_id == "abc"
    assert refused({"action": "stop", "bed_label": "x", "request_id": "abc"}).request_id == "abc"
    # Before it can be read (not JSON), or when the request id itself is wrong: none.
    assert refused(b'{"request_id": "abc", ').request_id is None
    for bad, words in ((7, "request_id must be a string, got a number"), ("", "request_id is empty"),
                       ("x" * 65, "request_id is longer than 64 characters (65)"),
                       ("a\nb", "not printable (U+000A)")):
        error = refused({"action": "status", "request_id": bad})
        assert words in error.error and error.request_id is None
    assert parse({"action": "status", "request_id": "x" * 64}).request_id == "x" * 64


def test_errors_quote_briefly():
    """An error never echoes a long payload back: a quoted value is cut at 40 characters, on one line."""
    error = refused({"action": "a" * 3000 + "\n"})
    assert len(error.error) < 120 and '..."' in error.error and "\n" not in error.error


def test_non_bytes_payload_is_an_error_not_an_exception():
    """A transport handing over a str by mistake gets a refusal too (memoryview and bytearray are bytes)."""
    assert "must be bytes, got str" in parse_command('{"action": "status"}').error  # type: ignore[arg-type]
    assert parse_command(bytearray(b'{"action":"status"}')) == Command("status", None, None, None)
    assert parse_command(memoryview(b'{"action":"status"}')) == Command("status", None, None, None)
