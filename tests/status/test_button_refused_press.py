"""A press while the box is not ready: refused, two blinks for 1.5 s, then the not-ready pattern again.

Why: a nurse pressing while the engine still warms up must see at once that nothing started,
and the LED must then go back to saying "not ready" rather than staying on the refusal.
"""
from __future__ import annotations

import pytest

from appliance.status.button import ButtonDecoder, ButtonTiming, press_intent
from appliance.status.led import PATTERNS, LedView, led_is_on, led_pattern


def test_a_press_while_not_ready_is_refused_and_the_two_blinks_show_once():
    d = ButtonDecoder(ButtonTiming())
    d.edge(50.0, True)
    d.edge(50.15, False)
    (press,) = d.tick(50.5)
    view = LedView(ready=False, state="idle", health="ok")
    assert press_intent(press, view.state, view.ready) == "refuse"

    refused = LedView(ready=False, state="idle", health="ok", refused_at_s=press.t_s)  # what the runtime shows
    assert press.t_s == pytest.approx(50.18)
    assert led_pattern(view, press.t_s).name == "not_ready"
    # for one period of two_blinks (1.5 s) from the refusal, then back to not_ready
    for dt in (0.0, 0.2, 0.7, 1.49):
        assert led_pattern(refused, press.t_s + dt).name == "two_blinks", dt
    for dt in (1.5, 1.6, 30.0):
        assert led_pattern(refused, press.t_s + dt).name == "not_ready", dt


def test_the_two_blinks_are_timed_from_the_refusal():
    """Lit 0.15-0.35 s and 0.55-0.75 s after the refused press, dark otherwise: two blinks,
    whatever the phase of the monotonic clock at the refusal."""
    t0 = 1234.567
    refused = LedView(ready=False, state="idle", health="ok", refused_at_s=t0)
    lit = [led_is_on(led_pattern(refused, t0 + k * 0.01), t0 + k * 0.01) for k in range(150)]
    runs = "".join("#" if x else "." for x in lit)
    assert runs == "." * 15 + "#" * 20 + "." * 20 + "#" * 20 + "." * 75
    assert PATTERNS["two_blinks"].period_s == 1.5
