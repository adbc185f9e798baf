"""A long press that bounces at its press and at its release: one long press, nothing else.

Why: a real contact bounces at both ends of a 2 s hold; the press bounces must not add short
presses, and the release bounces must not start a session after the stop.
"""
from __future__ import annotations

import pytest

from appliance.status.button import ButtonDecoder, ButtonTiming, Press

T = ButtonTiming(debounce_s=0.030, long_press_s=2.0)
PRESS = [(1.000, True), (1.003, False), (1.005, True), (1.009, False), (1.012, True)]  # settles at 1.012
RELEASE = [(3.500, False), (3.502, True), (3.506, False), (3.511, True), (3.515, False)]


def test_bounces_at_both_ends_give_one_long_press_timed_from_the_last_press_bounce():
    d = ButtonDecoder(T)
    out = []
    for t, p in PRESS:
        out += d.edge(t, p)
    t = 1.012
    while t < 3.49:  # the loop's 20 ms turns while held
        t += 0.020
        out += d.tick(t)
    assert out == [Press("long", pytest.approx(3.012))]
    for t, p in RELEASE:
        out += d.edge(t, p)
    out += d.tick(6.0)
    assert out == [Press("long", pytest.approx(3.012))]
    assert d.pressed is False


def test_the_same_edges_without_ticks_give_the_same_press():
    d = ButtonDecoder(T)
    out = []
    for t, p in PRESS + RELEASE:
        out += d.edge(t, p)
    assert out + d.tick(6.0) == [Press("long", pytest.approx(3.012))]


def test_a_glitch_near_the_threshold_does_not_hide_the_long_press():
    """A 10 ms dropout straddling the 2 s mark: the hold goes on, the long press still counts from the press."""
    d = ButtonDecoder(T)
    d.edge(0.0, True)
    assert d.tick(1.99) == []
    assert d.edge(1.995, False) == []
    assert d.tick(2.000) == []          # raw released at the threshold: wait and see
    assert d.edge(2.005, True) == []
    assert d.tick(2.010) == [Press("long", pytest.approx(2.0))]
    d.edge(4.0, False)
    assert d.tick(5.0) == []
