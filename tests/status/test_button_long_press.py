"""A long press: recognised while still held, at press start + long_press_s, exactly once.

Why: stopping a recording needs a deliberate 2 s hold; the nurse must see the LED react while
holding (so it is recognised then, not at release), and holding for 10 s must not stop, start or
acknowledge anything else — its release is not a short press.
"""
from __future__ import annotations

import pytest

from appliance.status.button import ButtonDecoder, ButtonTiming, Press

T = ButtonTiming(debounce_s=0.030, long_press_s=2.0)


def test_held_10_s_with_ticks_every_20_ms_gives_one_long_press_at_2_s_and_nothing_at_release():
    d = ButtonDecoder(T)
    assert d.edge(100.0, True) == []
    seen: list[tuple[float, Press]] = []
    for i in range(1, 501):  # 10 s of 20 ms loop turns
        now = 100.0 + i * 0.020
        seen += [(now, p) for p in d.tick(now)]
    assert [p for _, p in seen] == [Press("long", pytest.approx(102.0))]
    noticed_at = seen[0][0]
    assert noticed_at == pytest.approx(102.0)  # the first tick at or after 2.0 s, while still held
    assert d.pressed
    assert d.edge(110.0, False) == []
    assert d.tick(115.0) == []  # no short press for the release


def test_held_exactly_long_press_s_is_long():
    """The boundary is inclusive and exact (nanoseconds inside, no float drift): 0.3 -> 2.3 s."""
    d = ButtonDecoder(T)
    d.edge(0.3, True)
    assert d.edge(2.3, False) == [Press("long", pytest.approx(2.3))]
    assert d.tick(9.0) == []


def test_without_any_tick_the_release_edge_still_yields_the_long_press_not_a_short_one():
    """Edges only (a loop that never ticked): the hold of 3 s is long, at 2 s after the press."""
    d = ButtonDecoder(T)
    d.edge(5.0, True)
    assert d.edge(8.0, False) == [Press("long", pytest.approx(7.0))]
    assert d.tick(9.0) == []


def test_a_release_just_before_the_threshold_is_short_even_if_time_passes_the_threshold_before_it_is_confirmed():
    """Released at 1.990 s; a tick at 2.005 s (the release not yet confirmed) must not call it long."""
    d = ButtonDecoder(T)
    d.edge(0.0, True)
    d.edge(1.990, False)
    assert d.tick(2.005) == []
    assert d.tick(2.020) == [Press("short", pytest.approx(2.020))]


def test_a_held_button_at_start_is_not_a_press():
    """The line reads pressed when it is opened (a hand on it, or wired with the wrong active_low):
    nothing counts until it is released; the next press counts normally."""
    d = ButtonDecoder(T, initial_pressed=True)
    assert d.tick(5.0) == []
    assert d.edge(6.0, False) == [] and d.tick(7.0) == []
    d.edge(8.0, True)
    d.edge(8.2, False)
    assert d.tick(9.0) == [Press("short", pytest.approx(8.23))]


def test_a_long_press_with_a_custom_threshold():
    """button.long_press_s = 3: a 2.5 s hold is short, a 3 s one long."""
    t3 = ButtonTiming(debounce_s=0.030, long_press_s=3.0)
    d = ButtonDecoder(t3)
    d.edge(0.0, True)
    d.edge(2.5, False)
    assert d.tick(4.0) == [Press("short", pytest.approx(2.53))]
    d.edge(10.0, True)
    assert d.tick(13.0) == [Press("long", pytest.approx(13.0))]
