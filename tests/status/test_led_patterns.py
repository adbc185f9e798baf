"""Which LED pattern each state and health shows, and which wins when several apply.

Why: the LED is the only thing a nurse sees; each situation of issue 12 item 7 has its own
pattern (off idle, steady recording, slow blink degraded, fast blink error, a distinct one while
not ready and for a session that ended by itself), and the worse news must win.
"""
from __future__ import annotations

import pytest

from appliance.status.led import PATTERNS, RULES, LedView, led_pattern

NOW = 1000.0


def name(**kw) -> str:
    base = dict(ready=True, state="idle", health="ok")
    base.update(kw)
    return led_pattern(LedView(**base), NOW).name


def test_each_state_and_health_has_its_pattern():
    assert name() == "off"
    assert name(ready=False) == "not_ready"
    assert name(state="recording", ready=False) == "steady"
    assert name(state="starting", ready=False) == "steady"
    assert name(state="stopping", ready=False) == "steady"
    assert name(state="recording", ready=False, health="degraded") == "slow_blink"  # camera lost while recording
    assert name(health="degraded") == "slow_blink"   # idle, ready, with something to look at
    assert name(health="error", ready=False) == "fast_blink"
    assert name(ended_by_itself=True) == "ended"


def test_error_wins_over_degraded_recording_and_ended():
    assert name(health="error", state="recording", ready=False) == "fast_blink"
    assert name(health="error", ended_by_itself=True, ready=False) == "fast_blink"


def test_not_ready_wins_over_idle_and_degraded():
    """Camera absent: degraded and not ready; the LED says "not ready" (a press would be refused)."""
    assert name(ready=False, health="degraded") == "not_ready"


def test_ended_by_itself_shows_until_the_next_press_even_when_not_ready():
    """A session ended by a full disk: the disk is still full (degraded, not ready) but the LED says
    the session ended by itself until someone presses; after that press, not_ready."""
    assert name(ended_by_itself=True, ready=False, health="degraded") == "ended"
    assert name(ended_by_itself=False, ready=False, health="degraded") == "not_ready"


def test_a_recent_press_feedback_wins_over_everything_for_its_period():
    assert name(state="recording", ready=False, acked_at_s=NOW - 0.1) == "ack"
    assert name(state="recording", ready=False, acked_at_s=NOW - 0.4) == "steady"  # ack lasts 0.4 s
    assert name(health="error", ready=False, refused_at_s=NOW - 1.0) == "two_blinks"
    # the newer feedback is the one shown
    assert name(state="recording", ready=False, refused_at_s=NOW - 0.9, acked_at_s=NOW - 0.1) == "ack"
    assert name(ready=False, refused_at_s=NOW - 0.1, acked_at_s=NOW - 0.3) == "two_blinks"


def test_the_patterns_are_distinct_and_every_pattern_is_reachable_by_a_rule():
    shapes = {(p.period_s, p.on_intervals) for p in PATTERNS.values()}
    assert len(shapes) == len(PATTERNS) == 8
    assert {n for n, _, _ in RULES} == set(PATTERNS)
    assert set(PATTERNS) == {"off", "steady", "slow_blink", "fast_blink", "two_blinks", "not_ready", "ended", "ack"}


def test_a_view_with_an_unknown_health_or_state_is_an_error():
    with pytest.raises(ValueError, match="health"):
        LedView(ready=True, state="idle", health="fine")
    with pytest.raises(ValueError, match="state"):
        LedView(ready=True, state="paused", health="ok")
