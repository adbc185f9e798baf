"""led_is_on arithmetic: the phase of a pattern at a moment, and its boundaries (start lit, end dark).

Why: the LED loop asks this every 20 ms for hours of monotonic time; a float remainder that lands
just below a boundary would flash the LED at the wrong moment, so the phase is exact (nanoseconds).
"""
from __future__ import annotations

import pytest

from appliance.status.led import PATTERNS, LedPattern, led_is_on


def test_interval_start_is_lit_and_end_is_dark():
    p = LedPattern("t", 1.0, ((0.2, 0.5),))
    assert not led_is_on(p, 0.199999)
    assert led_is_on(p, 0.2)
    assert led_is_on(p, 0.499999)
    assert not led_is_on(p, 0.5)


def test_boundaries_stay_exact_many_periods_later():
    """0.3 % 0.1 is 0.0999... in floats; here 0.3 s is phase 0 of a 0.1 s pattern, lit."""
    p = LedPattern("t", 0.1, ((0.0, 0.05),))
    assert led_is_on(p, 0.3)
    assert not led_is_on(p, 0.35)
    fast = PATTERNS["fast_blink"]  # 0.25 s, lit 0-0.125
    for k in (1, 7, 1_000, 3_600 * 4 * 24):  # up to a day of quarter seconds
        t = k * 0.25
        assert led_is_on(fast, t), k
        assert led_is_on(fast, t + 0.124999), k
        assert not led_is_on(fast, t + 0.125), k
        assert not led_is_on(fast, t + 0.249999), k


def test_steady_is_always_lit_and_off_never():
    for t in (0.0, 0.5, 0.999999999, 1.0, 12345.678):
        assert led_is_on(PATTERNS["steady"], t)
        assert not led_is_on(PATTERNS["off"], t)


def test_the_phase_counts_from_t0():
    p = LedPattern("t", 2.0, ((0.0, 1.0),), t0_s=10.5)
    assert led_is_on(p, 10.5) and led_is_on(p, 11.49) and not led_is_on(p, 11.5)
    assert led_is_on(p, 12.5) and not led_is_on(p, 10.4)  # before t0: the previous period's dark half


def test_the_duty_cycle_of_each_pattern_matches_its_intervals():
    """Sampled every millisecond over one period, the lit fraction equals the intervals' total length."""
    for p in PATTERNS.values():
        n = round(p.period_s * 1000)
        lit = sum(led_is_on(p, (i + 0.5) / 1000) for i in range(n)) / 1000
        assert lit == pytest.approx(sum(b - a for a, b in p.on_intervals), abs=1e-9), p.name


def test_malformed_intervals_are_refused():
    for bad in (((0.5, 0.2),), ((0.0, 1.5),), ((0.0, 0.6), (0.5, 0.8)), ((-0.1, 0.2),)):
        with pytest.raises(ValueError, match="on_intervals"):
            LedPattern("bad", 1.0, bad)
    with pytest.raises(ValueError, match="period_s"):
        LedPattern("bad", 0.0, ())
