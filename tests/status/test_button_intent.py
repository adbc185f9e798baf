"""What a press means in each state (press_intent): the rules of issue 12, item 7.

Why: a brush of the hand must never end a recording (stopping needs a long press), a short press
while recording only acknowledges, a press the box cannot act on is refused visibly, and the
first press after a session ended by itself only clears that pattern.
"""
from __future__ import annotations

import itertools

import pytest

from appliance.status.button import INTENTS, Press, press_intent

SHORT, LONG = Press("short", 1.0), Press("long", 1.0)


def test_idle_and_ready_a_short_press_starts_and_a_long_press_is_refused():
    assert press_intent(SHORT, "idle", ready=True) == "start"
    assert press_intent(LONG, "idle", ready=True) == "refuse"  # a hold never starts a session


def test_recording_only_a_long_press_stops_and_a_short_press_acknowledges():
    for ready in (True, False):  # `ready` is about starting: false while recording, and irrelevant
        assert press_intent(LONG, "recording", ready) == "stop"
        assert press_intent(SHORT, "recording", ready) == "ack"


def test_not_ready_any_press_while_idle_is_refused():
    """Booting, engine warming up, camera absent: the runtime says why; the LED blinks twice."""
    assert press_intent(SHORT, "idle", ready=False) == "refuse"
    assert press_intent(LONG, "idle", ready=False) == "refuse"


def test_while_the_box_changes_state_a_press_is_only_acknowledged():
    for state, press, ready in itertools.product(("starting", "stopping"), (SHORT, LONG), (True, False)):
        assert press_intent(press, state, ready) == "ack", (state, press.kind, ready)


def test_the_first_press_after_a_session_ended_by_itself_only_clears():
    """Even a short press with the box ready: clear, not start (a second press starts)."""
    for press, ready in itertools.product((SHORT, LONG), (True, False)):
        assert press_intent(press, "idle", ready, ended_by_itself=True) == "clear"
    assert press_intent(SHORT, "idle", True, ended_by_itself=False) == "start"


def test_a_long_press_stops_a_recording_even_with_an_ended_flag_left_over():
    assert press_intent(LONG, "recording", False, ended_by_itself=True) == "stop"


def test_every_answer_is_one_of_the_intents_and_an_unknown_state_is_an_error():
    for state, press, ready, ended in itertools.product(("idle", "starting", "recording", "stopping"),
                                                         (SHORT, LONG), (True, False), (True, False)):
        assert press_intent(press, state, ready, ended) in INTENTS
    with pytest.raises(ValueError, match="state"):
        press_intent(SHORT, "paused", True)
    with pytest.raises(ValueError, match="kind"):
        Press("double", 1.0)
