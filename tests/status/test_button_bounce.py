"""Contact bounce and glitches: a level counts only once it has been stable for button.debounce_ms.

Why: a mechanical button bounces for a few milliseconds at each press and release, and a long
cable picks up glitches; counted raw, one press would start and stop sessions several times.
"""
from __future__ import annotations

import pytest

from appliance.status.button import ButtonDecoder, ButtonTiming, Press

T = ButtonTiming(debounce_s=0.030, long_press_s=2.0)


def feed(decoder: ButtonDecoder, edges: list[tuple[float, bool]], until_s: float) -> list[Press]:
    out: list[Press] = []
    for t, pressed in edges:
        out += decoder.edge(t, pressed)
    return out + decoder.tick(until_s)


def test_a_burst_of_edges_inside_30_ms_counts_once():
    """Five bounces within 8 ms, then held 200 ms, then a bouncy release: one short press, at the
    last release bounce + 30 ms (the instant the released level had been stable 30 ms)."""
    press = [(1.000, True), (1.002, False), (1.004, True), (1.006, False), (1.008, True)]
    release = [(1.208, False), (1.210, True), (1.213, False)]
    got = feed(ButtonDecoder(T), press + release, until_s=5.0)
    assert got == [Press("short", pytest.approx(1.243, abs=1e-9))]


def test_a_10_ms_glitch_while_idle_is_ignored():
    """A 10 ms pulse is not a press, however long one waits afterwards."""
    d = ButtonDecoder(T)
    assert feed(d, [(1.0, True), (1.010, False)], until_s=10.0) == []
    assert d.pressed is False


def test_a_level_held_just_under_the_debounce_is_ignored_and_just_over_counts():
    """29 ms is a glitch, 31 ms a (very short) press: the boundary is the configured 30 ms."""
    assert feed(ButtonDecoder(T), [(1.0, True), (1.029, False)], until_s=10.0) == []
    assert feed(ButtonDecoder(T), [(1.0, True), (1.031, False)], until_s=10.0) == [Press("short", pytest.approx(1.061))]


def test_a_10_ms_dropout_while_held_does_not_split_the_press():
    """Held 1 s with a 10 ms dropout in the middle: still one short press, recognised at the real release."""
    edges = [(1.0, True), (1.5, False), (1.510, True), (2.0, False)]
    assert feed(ButtonDecoder(T), edges, until_s=10.0) == [Press("short", pytest.approx(2.030))]


def test_a_press_is_not_recognised_before_its_level_is_stable():
    """Ticking every millisecond through a bounce burst: nothing until the released level has held 30 ms."""
    d = ButtonDecoder(T)
    out = []
    for t, p in [(0.0, True), (0.1, False), (0.105, True), (0.110, False)]:
        out += d.edge(t, p)
    for i in range(111, 140):
        assert d.tick(i / 1000) == [], i
    assert d.tick(0.140) == [Press("short", pytest.approx(0.140))]


def test_a_repeated_level_restarts_a_pending_change():
    """Two 'pressed' edges 20 ms apart (the release between them too short to be reported): the
    line was not stable, so the press counts from the second one."""
    d = ButtonDecoder(T)
    assert d.edge(1.0, True) == []
    assert d.edge(1.020, True) == []
    assert d.tick(1.045) == [] and d.pressed is False  # 45 ms after the first edge, 25 ms after the second
    assert d.tick(1.050) == [] and d.pressed is True
