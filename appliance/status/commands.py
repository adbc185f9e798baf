"""Command payloads: bytes in, a ``Command`` or a ``CommandError`` out. Pure: no I/O, no clock, no threads.

One parser for every transport that carries commands: the local control socket (one JSON document
per line) and MQTT's ``cmd`` topic (one JSON document per message). The transport only says where a
payload came from (``origin``); what the payload may say is decided here, once:

    {"action": "start" | "stop" | "status",
     "request_id": "<printable, 1-64 characters>",     optional, echoed in the answer
     "bed_label": "<printable, 1-32 characters>",      optional, start only: a place, never a patient id
     "sent_at": <seconds since the epoch>}             optional (MQTT refuses stale ones)

The local control socket alone also takes ``{"action": "ack", "session_id": "<uid>"}``: `agma dump
--ack UID` telling the daemon that a session's dump has been pulled off the box, which lets
retention delete the session later (store/retention.py). It is refused from MQTT (an unknown
action and key there): deleting research data is never a remote desk's decision.

``null`` for an optional key means the same as leaving it out. Anything else is refused with one
line saying what is wrong, and never with an exception: a payload over ``MAX_COMMAND_BYTES``,
invalid UTF-8, JSON nested deeper than ``MAX_JSON_DEPTH`` (refused by a scan of the bytes *before*
``json.loads``, whose recursion a 5,000-deep document would otherwise exhaust), not JSON, NaN or
Infinity, a duplicated key (parsers disagree on which one wins), not an object, an unknown key
(refused rather than ignored, so a misspelt ``bed_lable`` is not silently dropped), a missing or
unknown action, a value of the wrong type, a bed label on anything but a start. The request id is
read first, so every refusal after that point can echo it.

``encode_answer`` is the other direction: one answer, one JSON document on one line, NaN as null.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The largest payload accepted, in bytes (the control socket's line without its newline; an MQTT message).
MAX_COMMAND_BYTES = 4096
#: Deepest nesting of arrays and objects accepted (a command needs 1).
MAX_JSON_DEPTH = 32
ACTIONS = ("start", "stop", "status")
#: Actions only the local control socket accepts (origin "socket"), and the key that goes with them.
SOCKET_ACTIONS = ("ack",)
SOCKET_KEYS = ("session_id",)
MAX_SESSION_ID = 64
MAX_BED_LABEL = 32
MAX_REQUEST_ID = 64
#: The keys a command may carry; anything else is refused.
KEYS = ("action", "request_id", "bed_label", "sent_at")
#: How much of a value a refusal quotes (an error is one short line, never an echo of the payload).
_QUOTE_CHARS = 40
#: Six or more digits, optionally split by single spaces, dashes, dots or slashes: the shape of a
#: medical record number, a national health number or a birth date, not of a bed or a room.
_IDENTIFIER_LIKE = re.compile(r"\d(?:[\s./-]?\d){5,}")


@dataclass(frozen=True)
class Command:
    """A valid command. ``origin`` is set by the transport, never by the payload."""

    action: str                 # one of ACTIONS
    request_id: str | None      # echoed in the answer; printable, <= MAX_REQUEST_ID characters
    bed_label: str | None       # start only; validate_bed_label() passed
    sent_at: float | None       # seconds since the epoch, finite and >= 0, when the sender gave it
    origin: str = "socket"      # "socket", "mqtt", "button", "signal"
    session_id: str | None = None  # ack only (the control socket): the session whose dump was pulled


@dataclass(frozen=True)
class CommandError:
    """A refused payload: ``error`` is one line saying what is wrong; ``request_id`` when one could be read."""

    error: str
    request_id: str | None


class _NotJson(ValueError):
    """Raised inside json.loads by its hooks: a constant or a duplicate key JSON should not carry."""


def _quote(value: Any) -> str:
    """A short, one-line, ASCII rendering of a value for an error message."""
    text = json.dumps(value, ensure_ascii=True) if isinstance(value, str) else type(value).__name__
    return text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS - 4] + '..."'


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type (what a sender wrote, not Python's name for it)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _too_deep(data: bytes, limit: int) -> bool:
    """Whether arrays/objects in ``data`` nest deeper than ``limit``, brackets inside strings not counted.

    Works on the raw bytes: UTF-8 never puts an ASCII byte inside a multi-byte character, so a
    bracket or quote byte is always that character. Cheap: most payloads have too few brackets to
    need the scan at all.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte == 0x5B or byte == 0x7B:  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte == 0x5D or byte == 0x7D:  # ] }
            depth -= 1
    return False


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON number")


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _NotJson(f"key {_quote(key)} appears twice")
        out[key] = value
    return out


def _printable_text(value: Any, what: str, max_chars: int) -> str | None:
    """Reason a value is not a non-empty printable string of at most ``max_chars``; None when it is."""
    if not isinstance(value, str):
        return f"{what} must be a string, got {_json_type(value)}"
    if not value:
        return f"{what} is empty"
    if len(value) > max_chars:
        return f"{what} is longer than {max_chars} characters ({len(value)})"
    for ch in value:
        if not ch.isprintable():
            return f"{what} contains a character that is not printable (U+{ord(ch):04X})"
    return None


def validate_bed_label(label: str) -> str | None:
    """Why ``label`` cannot be a bed label (one line), or None when it can.

    A bed label names a place (a bed, a warmer, a room): printable, 1-MAX_BED_LABEL characters, no
    leading or trailing spaces, and nothing shaped like a patient identifier (six or more digits in
    a row, separators allowed: a record number, a health number, a birth date). The config check of
    ``box.bed_label`` uses it too (its empty default means "no label" and is not passed here).
    """
    reason = _printable_text(label, "bed label", MAX_BED_LABEL)
    if reason:
        return reason
    if label != label.strip():
        return "bed label has leading or trailing spaces"
    if _IDENTIFIER_LIKE.search(label):
        return ("bed label looks like an identifier (six or more digits in a row); "
                "a bed label names a place, never a patient")
    return None


def parse_command(payload: bytes, origin: str = "socket") -> Command | CommandError:
    """The command in ``payload`` (one JSON object, UTF-8), or why it is refused. Never raises."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        return CommandError(f"command must be bytes, got {type(payload).__name__}", None)
    data = bytes(payload)
    if len(data) > MAX_COMMAND_BYTES:
        return CommandError(f"command is {len(data)} bytes; the limit is {MAX_COMMAND_BYTES}", None)
    if not data.strip():
        return CommandError("empty command: expected a JSON object such as {\"action\": \"status\"}", None)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return CommandError(f"command is not valid UTF-8 (byte {exc.start})", None)
    if _too_deep(data, MAX_JSON_DEPTH):
        return CommandError(f"command nests arrays or objects deeper than {MAX_JSON_DEPTH} levels", None)
    try:
        doc = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_object_without_duplicates)
    except _NotJson as exc:
        return CommandError(f"command is not valid JSON: {exc}", None)
    except json.JSONDecodeError as exc:
        return CommandError(f"command is not JSON: {exc.msg} (at character {exc.pos})", None)
    except ValueError as exc:  # e.g. an integer beyond int_max_str_digits (not reachable under 4 KiB)
        return CommandError(f"command is not JSON: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                            None)
    if not isinstance(doc, dict):
        return CommandError(f"command must be a JSON object, got {_json_type(doc)}", None)
    return _command_from(doc, origin)


def _command_from(doc: dict[str, Any], origin: str) -> Command | CommandError:
    """The command a decoded JSON object describes, checked key by key."""
    request_id = doc.get("request_id")
    if request_id is not None:
        reason = _printable_text(request_id, "request_id", MAX_REQUEST_ID)
        if reason:
            return CommandError(reason, None)

    def refuse(reason: str) -> CommandError:
        return CommandError(reason, request_id)

    local = origin == "socket"
    keys = KEYS + SOCKET_KEYS if local else KEYS
    actions = ACTIONS + SOCKET_ACTIONS if local else ACTIONS
    unknown = sorted(k for k in doc if k not in keys)
    if unknown:
        return refuse(f"unknown key {_quote(unknown[0])}" + (f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else "")
                      + f"; a command may carry {', '.join(keys)}")
    if "action" not in doc or doc["action"] is None:
        return refuse(f"missing action: one of {', '.join(actions)}")
    action = doc["action"]
    if not isinstance(action, str):
        return refuse(f"action must be a string, got {_json_type(action)}")
    if action not in actions:
        return refuse(f"unknown action {_quote(action)}; known actions: {', '.join(actions)}")

    session_id = doc.get("session_id")
    if action == "ack" and session_id is None:
        return refuse("ack needs session_id: the uid of the session whose dump was pulled")
    if session_id is not None:
        if action != "ack":
            return refuse(f"session_id is only accepted with ack, not with {action}")
        reason = _printable_text(session_id, "session_id", MAX_SESSION_ID)
        if reason:
            return refuse(reason)

    bed_label = doc.get("bed_label")
    if bed_label is not None:
        if action != "start":
            return refuse(f"bed_label is only accepted with start, not with {action}")
        reason = validate_bed_label(bed_label)
        if reason:
            return refuse(reason)

    sent_at = doc.get("sent_at")
    if sent_at is not None:
        if isinstance(sent_at, bool) or not isinstance(sent_at, (int, float)):
            return refuse(f"sent_at must be a number of seconds since the epoch, got {_json_type(sent_at)}")
        try:
            sent_at = float(sent_at)
        except OverflowError:  # an integer beyond a float's range
            sent_at = math.inf
        if not math.isfinite(sent_at) or sent_at < 0:
            return refuse("sent_at must be a finite, non-negative number of seconds since the epoch")

    return Command(action=action, request_id=request_id, bed_label=bed_label, sent_at=sent_at, origin=origin,
                   session_id=session_id)


def _jsonable(obj: Any) -> Any:
    """``obj`` with every non-finite float as None (JSON has no NaN) and numpy scalars as Python ones."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int)) or obj is None:  # bool is an int
        return obj
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    item = getattr(obj, "item", None)
    if callable(item):  # a numpy scalar
        return _jsonable(item())
    raise TypeError(f"an answer cannot hold {type(obj).__name__}")


def encode_answer(answer: Mapping) -> bytes:
    """One answer as one JSON document on one line, ending in b"\\n"; NaN and infinities as null.

    ASCII only (non-ASCII characters escaped), so any string, even one with a lone surrogate,
    encodes. Raises TypeError for a value JSON cannot hold: a programmer's error, which the
    control socket answers as an internal error.
    """
    if not isinstance(answer, Mapping):
        raise TypeError(f"an answer is a mapping, got {type(answer).__name__}")
    text = json.dumps(_jsonable(answer), separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return text.encode("ascii") + b"\n"
