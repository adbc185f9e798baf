"""A short press: recognised once, when its release is confirmed (release + debounce).

Why: a short press starts a session while idle; it must count exactly once, and never before the
button has been let go (a hold that turns long must not also have started something).
"""
from __future__ import annotations

import pytest

from appliance.status.button import ButtonDecoder, ButtonTiming, Press

T = ButtonTiming(debounce_s=0.030, long_press_s=2.0)


def test_a_clean_300_ms_press_is_one_short_press_at_release_plus_debounce():
    d = ButtonDecoder(T)
    assert d.edge(10.0, True) == []
    assert d.tick(10.2) == [] and d.pressed
    assert d.edge(10.3, False) == []
    assert d.tick(10.329) == []
    assert d.tick(10.330) == [Press("short", pytest.approx(10.330))]
    assert d.tick(20.0) == []


def test_the_press_is_recognised_at_the_same_instant_however_late_time_is_reported():
    """No tick until 5 s later: the Press still says 10.330, when the rule was met."""
    d = ButtonDecoder(T)
    d.edge(10.0, True)
    d.edge(10.3, False)
    assert d.tick(15.0) == [Press("short", pytest.approx(10.330))]


def test_a_press_of_almost_long_press_s_is_still_short():
    """Held 1.999 s: short (the long press needs the full 2 s)."""
    d = ButtonDecoder(T)
    d.edge(0.0, True)
    assert d.edge(1.999, False) == []
    assert d.tick(3.0) == [Press("short", pytest.approx(2.029))]


def test_three_presses_are_three_short_presses():
    d = ButtonDecoder(T)
    out = []
    for start in (1.0, 2.0, 3.0):
        out += d.edge(start, True) + d.edge(start + 0.2, False)
    out += d.tick(10.0)
    assert [p.kind for p in out] == ["short"] * 3
    assert [p.t_s for p in out] == pytest.approx([1.23, 2.23, 3.23])


def test_timing_must_make_sense():
    """A debounce of zero, or a long press not longer than the debounce, is refused with the reason."""
    with pytest.raises(ValueError, match="debounce_s"):
        ButtonTiming(debounce_s=0.0)
    with pytest.raises(ValueError, match="long_press_s"):
        ButtonTiming(debounce_s=0.05, long_press_s=0.05)
