"""The button-led thread with a simulated line adapter: presses reach on_press, the LED follows the view.

Why: this is the loop the daemon runs on the box; only the GPIO calls are simulated (gpio_sim.py),
the decoder and the patterns are the real ones. It must hand over each press once, show what the
view says, stop promptly when asked, leave the LED off, and be one named, non-daemon thread.
"""
from __future__ import annotations

import threading
import time

import pytest

from appliance.status.button import ButtonTiming, Press
from appliance.status.gpio import ButtonLed
from appliance.status.led import LedView
from tests.helpers import DEADLINE_S
from tests.status.gpio_sim import SimLines


class Box:
    """What the runtime gives the sink: an enqueue for presses and the current view."""

    def __init__(self, lines: SimLines) -> None:
        self.lines = lines
        self.presses: list[tuple[Press, bool]] = []  # each press, and whether the button was still held then
        self.current = LedView(ready=True, state="idle", health="ok")
        self.lock = threading.Lock()

    def on_press(self, p: Press) -> None:
        with self.lock:
            self.presses.append((p, self.lines.level))

    def view(self) -> LedView:
        with self.lock:
            return self.current

    def got(self) -> list[Press]:
        with self.lock:
            return [p for p, _ in self.presses]


@pytest.fixture
def sink():
    lines = SimLines()
    box = Box(lines)
    led = ButtonLed("/dev/gpiochip-sim", 105, 106, True, box.on_press, box.view, ButtonTiming(),
                    open_lines=lambda: lines)
    led.start()
    try:
        yield led, lines, box
    finally:
        led.stop(DEADLINE_S)
        assert not led.threads()[0].is_alive()


def test_one_named_non_daemon_thread_that_stops_promptly_and_leaves_the_led_off(sink):
    led, lines, box = sink
    (thread,) = led.threads()
    assert thread.name == "button-led" and not thread.daemon and thread.is_alive()
    box.current = LedView(ready=False, state="recording", health="ok")
    lines.wait_for(lambda: lines.led_on() is True, "LED on while recording")
    turns = lines.turns
    lines.wait_for(lambda: lines.turns > turns + 3, "the loop turning")
    hb = led.heartbeat
    lines.wait_for(lambda: led.heartbeat > hb, "the heartbeat moving")
    led.stop(DEADLINE_S)
    assert not thread.is_alive()
    assert lines.closed and lines.led_on() is False
    assert led.error is None


def test_a_bouncy_short_press_reaches_on_press_once_with_its_edge_time(sink):
    led, lines, box = sink
    t0 = time.monotonic() + 0.05
    lines.schedule([(t0, True), (t0 + 0.002, False), (t0 + 0.004, True),
                    (t0 + 0.150, False), (t0 + 0.153, True), (t0 + 0.155, False)])
    lines.wait_for(lambda: box.got(), "a press")
    # once the release + debounce is well past, still exactly one
    lines.wait_for(lambda: time.monotonic() > t0 + 0.5 and lines.turns > 0, "time passing")
    turns = lines.turns
    lines.wait_for(lambda: lines.turns > turns + 2, "two more loop turns")
    assert box.got() == [Press("short", pytest.approx(t0 + 0.185, abs=1e-6))]
    assert led.presses == 1


def test_a_long_press_is_handed_over_while_the_button_is_still_held(sink):
    led, lines, box = sink
    t0 = time.monotonic() + 0.05
    lines.schedule([(t0, True)])
    lines.wait_for(lambda: box.got(), "the long press", deadline_s=DEADLINE_S)
    with box.lock:
        (press, held), = box.presses
    assert press == Press("long", pytest.approx(t0 + 2.0, abs=1e-6)) and held
    lines.schedule([(time.monotonic(), False)])
    lines.wait_for(lambda: lines.level is False, "the release delivered")
    turns = lines.turns
    lines.wait_for(lambda: lines.turns > turns + 3, "loop turns after the release")  # 60 ms > the debounce
    assert box.got() == [press]  # no short press for the release


def test_the_led_follows_the_view(sink):
    led, lines, box = sink
    box.current = LedView(ready=False, state="recording", health="ok")
    lines.wait_for(lambda: lines.led_on() is True, "steady on")
    box.current = LedView(ready=True, state="idle", health="ok")
    lines.wait_for(lambda: lines.led_on() is False, "off when idle")
    box.current = LedView(ready=False, state="idle", health="error")
    n = len(lines.led)
    lines.wait_for(lambda: len(lines.led) >= n + 6, "fast blinking (at least 3 on/off cycles)")
    changes = lines.led[n:]
    assert all(a[1] != b[1] for a, b in zip(changes, changes[1:]))  # written only when it changes
    box.current = LedView(ready=True, state="idle", health="ok")
    lines.wait_for(lambda: lines.led_on() is False, "off again")
