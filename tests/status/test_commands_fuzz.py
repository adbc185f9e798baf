"""The command parser under fuzzing: whatever bytes arrive, it returns a Command or a CommandError, never raises.

Issue 15's target is 10,000 generated payloads through the parser in-process: a fixed corpus of the
known-nasty cases (invalid UTF-8, 256 KiB, 5,000-deep JSON, wrong types, unknown actions), 8,000
deterministic mutations of valid commands, and Hypothesis over arbitrary bytes, arbitrary JSON
values, valid commands and commands with exactly one thing wrong: 11,972 payloads in all, a few seconds.
Every result must also be well-formed: a Command only ever holds what the rules allow, and a
CommandError's text is one short line.
"""
from __future__ import annotations

import json
import math
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.status.commands import (ACTIONS, MAX_BED_LABEL, MAX_COMMAND_BYTES, MAX_REQUEST_ID, Command,
                                       CommandError, parse_command, validate_bed_label)

def fuzz(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _printable_id(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_REQUEST_ID and value.isprintable()


def check(result, origin: str = "socket") -> Command | CommandError:
    """The parser's result is one of its two types and holds only what the rules allow."""
    assert type(result) in (Command, CommandError), repr(result)
    if isinstance(result, Command):
        assert result.action in ACTIONS and result.origin == origin
        assert result.request_id is None or _printable_id(result.request_id)
        if result.bed_label is not None:
            assert result.action == "start" and validate_bed_label(result.bed_label) is None
        if result.sent_at is not None:
            assert isinstance(result.sent_at, float) and math.isfinite(result.sent_at) and result.sent_at >= 0
    else:
        assert isinstance(result.error, str) and result.error
        assert "\n" not in result.error and "\r" not in result.error and len(result.error) <= 300
        assert result.request_id is None or _printable_id(result.request_id)
    return result


VALID = [
    b'{"action":"start"}', b'{"action":"stop","request_id":"r-1"}', b'{"action":"status"}',
    b'{"action":"start","bed_label":"NICU 3","request_id":"desk/9","sent_at":1700000000.25}',
]

CORPUS = [
    b"", b"\n", b"\x00", b"\xff" * 10, b"\xc3", b"\xed\xa0\x80",              # empty, NUL, invalid and surrogate UTF-8
    b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b"\xef\xbb\xbf{\"action\":\"stop\"}",  # overlong, 5-byte, a BOM
    b'{"action":"st\xffop"}', b'{"request_id":"\xe2\x82"}',
    b"{" * 256 * 1024, b"A" * 256 * 1024, b'{"action":"status","x":"' + b"a" * 256 * 1024 + b'"}',  # 256 KiB
    b"[" * 5000 + b"]" * 5000, b'{"a":' * 5000 + b"1" + b"}" * 5000, b"[" * 5000,  # 5,000 deep
    b"[" * 2000 + b"]" * 2000, b'{"a":' * 800 + b"1" + b"}" * 800, b"[" * 4096,   # deep within 4 KiB
    b'{"action":"stop","x":' + b"[" * 33 + b"]" * 33 + b"}",
    b'"\\ud800"', b'{"action":"start","bed_label":"\\ud800"}', b'{"request_id":"\\u0000","action":"x"}',
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"9" * 4096, b'{"action":"stop","sent_at":' + b"9" * 4000 + b"}",
    b"true", b"null", b"[]", b"{}", b'""', b"[{}]", b'{"action":{}}', b'{"action":[]}', b'{"action":null}',
    b'{"action":true}', b'{"action":1.5}', b'{"action":"START"}', b'{"action":"start "}', b'{"action":"reboot"}',
    b'{"action":"stop","bed_label":"x"}', b'{"action":"start","bed_label":[]}', b'{"action":"start","bed_label":""}',
    b'{"action":"stop","sent_at":"now"}', b'{"action":"stop","sent_at":false}', b'{"action":"stop","sent_at":-0.5}',
    b'{"action":"stop","sent_at":1e400}', b'{"action":"stop","request_id":{}}', b'{"action":"stop","request_id":1}',
    b'{"action":"stop","action":"start"}', b'{"x":{"y":1,"y":2},"action":"stop"}', b'{"action":"stop"} {}',
    b'{"action":"stop"}\n{"action":"start"}', b"{'action':'stop'}", b'{"action":"stop",}', b"{\"action\":\"stop\"",
    b'{"__proto__":1,"action":"stop"}', b'{"action":"stop","":1}', b'{"\\u0000":1}',
    b'{"action":"start","bed_label":"' + b"x" * (MAX_BED_LABEL + 1) + b'"}',
    b'{"action":"status","request_id":"' + b"r" * (MAX_REQUEST_ID + 1) + b'"}',
    b'{"action":"status"}' + b" " * (MAX_COMMAND_BYTES - 19), b'{"action":"status"}' + b" " * (MAX_COMMAND_BYTES - 18),
    *VALID,
]


#: Deterministic mutations of valid commands per run (cheap: under 0.2 s for all of them).
MUTATIONS = 8000


def _mutations(count: int, seed: int = 15):
    """Deterministic mutations of valid commands: bit flips, byte insertions, deletions, truncations, splices."""
    rng = random.Random(seed)
    specials = [b"{", b"}", b"[", b"]", b'"', b"\\", b",", b":", b"\xff", b"\x00", b"\xc3", b"NaN", b"1e999", b"null"]
    for _ in range(count):
        data = bytearray(rng.choice(VALID))
        for _ in range(rng.randint(1, 4)):
            op = rng.randrange(5)
            at = rng.randrange(len(data) + 1)
            if op == 0 and data:
                data[at % len(data)] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[at:at] = rng.choice(specials)
            elif op == 2 and data:
                del data[at:at + rng.randint(1, 8)]
            elif op == 3:
                del data[at:]
            else:
                other = rng.choice(VALID)
                data[at:] = other[rng.randrange(len(other)):]
        yield bytes(data)


def test_corpus_and_mutations_never_raise():
    """The known-nasty payloads, and 8,000 mutations of valid ones, each give a well-formed result."""
    results = [check(parse_command(p)) for p in CORPUS]
    results += [check(parse_command(p, origin="mqtt"), origin="mqtt") for p in _mutations(MUTATIONS)]
    assert len(results) == len(CORPUS) + MUTATIONS
    # The corpus's own verdicts, independently of the parser's: every payload but the valid ones
    # and the padded-to-the-limit status is refused; the 5,000-deep and 256 KiB ones by size.
    accepted = [p for p, r in zip(CORPUS, results) if isinstance(r, Command)]
    assert accepted == [CORPUS[-len(VALID) - 2], *VALID]
    for p, r in zip(CORPUS, results):
        if len(p) > MAX_COMMAND_BYTES:
            assert r.error.startswith(f"command is {len(p)} bytes")
    # The mutations reach past the JSON decoder to the key checks too, not only to "not JSON".
    errors = {r.error.split(":")[0].split(" ")[0] for r in results[len(CORPUS):] if isinstance(r, CommandError)}
    assert {"command", "unknown", "missing"} <= errors


@fuzz(2000)
@given(st.binary(max_size=MAX_COMMAND_BYTES + 64))
def test_arbitrary_bytes_never_raise(payload):
    check(parse_command(payload))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=15,
)
#: The same without NaN and infinities (which json.dumps writes as non-JSON): for a flaw that must be the only one.
FINITE_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=15,
)
#: Objects with the command's own keys, holding any JSON value: reach every key check, not only the decoder.
COMMAND_LIKE = st.dictionaries(
    st.sampled_from(["action", "request_id", "bed_label", "sent_at", "bed", "Action"]),
    st.sampled_from(list(ACTIONS)) | JSON_VALUES, max_size=5)


@fuzz(600)
@given(JSON_VALUES | COMMAND_LIKE)
def test_arbitrary_json_never_raises(value):
    """Any JSON document (NaN and Infinity as Python's json writes them, lone surrogates included)."""
    check(parse_command(json.dumps(value).encode()))


PRINTABLE = st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"), include_characters=" ")
REQUEST_IDS = st.text(PRINTABLE, min_size=1, max_size=MAX_REQUEST_ID)
PLACES = st.from_regex(r"[A-Za-zé][A-Za-zé -]{0,20}[A-Za-z]( [0-9]{1,5})?", fullmatch=True)
SENT_AT = st.floats(min_value=0, max_value=4e9) | st.integers(min_value=0, max_value=4_000_000_000)


@st.composite
def valid_commands(draw):
    action = draw(st.sampled_from(ACTIONS))
    doc = {"action": action}
    if draw(st.booleans()):
        doc["request_id"] = draw(REQUEST_IDS)
    if action == "start" and draw(st.booleans()):
        doc["bed_label"] = draw(PLACES)
    if draw(st.booleans()):
        doc["sent_at"] = draw(SENT_AT)
    return doc


#: One thing wrong with a valid command: (what, how to make it so); "request_id" ones cannot echo it.
FLAWS = {
    "unknown action": lambda d, draw: d.update(action=draw(st.text(max_size=10).filter(lambda a: a not in ACTIONS))),
    "action type": lambda d, draw: d.update(action=draw(FINITE_JSON_VALUES.filter(lambda v: not isinstance(v, str)))),
    "no action": lambda d, draw: d.pop("action"),
    "unknown key": lambda d, draw: d.update({draw(st.text(max_size=10).filter(
        lambda k: k not in ("action", "request_id", "bed_label", "sent_at"))): draw(FINITE_JSON_VALUES)}),
    "label elsewhere": lambda d, draw: d.update(action=draw(st.sampled_from(["stop", "status"])), bed_label=draw(PLACES)),
    "label too long": lambda d, draw: d.update(action="start", bed_label=draw(PLACES) + "x" * MAX_BED_LABEL),
    "label identifier": lambda d, draw: d.update(action="start", bed_label=f"MRN {draw(st.integers(100000, 10**9))}"),
    "label type": lambda d, draw: d.update(action="start", bed_label=draw(FINITE_JSON_VALUES.filter(
        lambda v: v is not None and not isinstance(v, str)))),
    "sent_at negative": lambda d, draw: d.update(sent_at=draw(st.floats(max_value=-1e-9, allow_infinity=False))),
    "sent_at type": lambda d, draw: d.update(sent_at=draw(st.text() | st.booleans() | st.lists(st.integers()))),
    "request_id": lambda d, draw: d.update(request_id=draw(
        st.text(min_size=MAX_REQUEST_ID + 1, max_size=80) | st.just("") | st.integers() | st.text(
            st.characters(categories=("Cc",)), min_size=1, max_size=5))),
}


@fuzz(500)
@given(valid_commands(), st.data())
def test_valid_commands_parse_to_exactly_themselves(doc, data):
    """A generated valid command gives the Command it describes, whatever its origin."""
    origin = data.draw(st.sampled_from(["socket", "mqtt"]))
    got = check(parse_command(json.dumps(doc).encode(), origin=origin), origin=origin)
    sent_at = doc.get("sent_at")
    assert got == Command(doc["action"], doc.get("request_id"), doc.get("bed_label"),
                          None if sent_at is None else float(sent_at), origin)


@fuzz(800)
@given(valid_commands(), st.sampled_from(sorted(FLAWS)), st.data())
def test_one_flaw_is_refused_and_echoes_the_request_id(doc, flaw, data):
    """The same commands with exactly one thing wrong are refused, with their request id when it is sound."""
    FLAWS[flaw](doc, data.draw)
    got = check(parse_command(json.dumps(doc).encode()))
    assert isinstance(got, CommandError), (flaw, doc, got)
    assert got.request_id == (None if flaw == "request_id" else doc.get("request_id"))
