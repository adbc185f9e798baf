"""Session frame numbering: the index is the frame's slot at the nominal rate since the first frame.

Why: drops and camera gaps must be holes of their length in frame_index, so that exports keep real
time (DESIGN.md, "Time"); jitter must never number two frames alike, and the inverse must give back
each slot's nominal time (round trip).
"""
from __future__ import annotations

import hypothesis.strategies as st
import pytest
from hypothesis import given

from appliance.runtime.slots import SlotClock

T0 = 1_700_000_000_000_000_000
FRAME_NS = 1e9 / 30


def test_a_gap_is_a_hole_of_its_length():
    c = SlotClock(30.0)
    got = [c.index(T0 + round(k * FRAME_NS)) for k in (0, 1, 2, 3, 124, 125)]  # 4 s (120 slots) without frames
    assert got == [0, 1, 2, 3, 124, 125]


def test_jitter_never_reuses_a_slot():
    c = SlotClock(30.0)
    stamps = [T0, T0 + 1_000_000, T0 + 34_000_000, T0 + 30_000_000]  # two in slot 0, then one going back
    assert [c.index(t) for t in stamps] == [0, 1, 2, 3]


def test_the_inverse_gives_each_slots_nominal_time():
    c = SlotClock(30.0)
    c.index(T0)
    assert c.slot_time_ns(0) == T0
    assert c.slot_time_ns(30) == T0 + 1_000_000_000
    assert c.index(c.slot_time_ns(90)) == 90


def test_a_rate_must_be_positive():
    with pytest.raises(ValueError):
        SlotClock(0.0)


@given(st.lists(st.integers(min_value=0, max_value=10_000_000_000), min_size=1, max_size=200))
def test_indices_strictly_increase_and_never_run_ahead_of_time(offsets_ns):
    c = SlotClock(30.0)
    stamps = [T0 + o for o in sorted(offsets_ns)]
    idx = [c.index(t) for t in stamps]
    assert idx[0] == 0
    assert all(b > a for a, b in zip(idx, idx[1:]))
    # a slot is never earlier than its time says (collisions only push later)
    assert all(i >= round((t - stamps[0]) * 30 / 1e9) for i, t in zip(idx, stamps))
