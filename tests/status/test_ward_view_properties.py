"""Whatever a broker delivers, in whatever order, the desk's model holds its promises (Hypothesis).

A broker carries anything anyone with write access published: random bytes, JSON of any shape,
empty retained deletions, messages for topics the desk does not read. For every sequence of such
messages the view never raises, has exactly one row per box it still knows, sorted, ages that are
never negative and grow with the desk's clock, and a staleness that is exactly "no readable status
for 3 of the box's heartbeats".
"""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.status.ward import STALE_HEARTBEATS, WardView

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                    max_leaves=12)
KEYS = ("box_id", "state", "health", "error", "session_id", "bed_label", "elapsed_s", "fps", "dropped_frames",
        "camera", "disk_free_mb", "heartbeat_s", "updated_at", "last_event")
STATUS_LIKE = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=len(KEYS)).map(lambda d: json.dumps(d).encode())
PAYLOAD = st.one_of(st.binary(max_size=64), STATUS_LIKE, st.sampled_from([b"", b"online", b"offline"]),
                    JSON.map(lambda v: json.dumps(v).encode()))
MESSAGE = st.tuples(st.sampled_from(["a", "b", "c", "box/1", ""]),
                    st.sampled_from(["availability", "status", "stats", "events"]), PAYLOAD, st.booleans(),
                    st.floats(min_value=0, max_value=5))  # the gap since the previous message, s


@settings(max_examples=300, deadline=None)
@given(st.lists(MESSAGE, max_size=30), st.floats(min_value=0, max_value=100))
def test_any_sequence_keeps_the_promises(messages, later):
    v = WardView()
    t = 0.0
    for box, name, payload, retained, gap in messages:
        t += gap
        v.feed(box, name, payload, retained, t)
    rows = v.rows(t)
    boxes = [r.box for r in rows]
    assert boxes == sorted(set(boxes))
    for r in rows:
        assert r.age_s is None or r.age_s >= 0
        assert r.heartbeat_s > 0
        assert r.stale == (r.age_s is None or r.age_s > STALE_HEARTBEATS * r.heartbeat_s)
        assert r.offline == (r.availability == "offline")
        assert r.availability in (None, "online", "offline")
        json.dumps(r.to_dict(), allow_nan=False)  # the --json snapshot is always valid JSON
    for before, after in zip(rows, v.rows(t + later)):
        assert before.box == after.box
        if before.age_s is not None:
            assert abs(after.age_s - (before.age_s + later)) <= 2e-3  # ages are given to the ms


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["availability", "status"]),
                          st.binary(min_size=1, max_size=32)), max_size=20))
def test_every_box_that_said_something_has_a_row(messages):
    v = WardView()
    for box, name, payload in messages:
        v.feed(box, name, payload, False, 0.0)
    assert [r.box for r in v.rows(0.0)] == sorted({box for box, _, _ in messages})
