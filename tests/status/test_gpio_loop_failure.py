"""The GPIO lines failing under the loop (the chip gone): the thread ends, says why, and releases the lines.

Why: a device error must not leave a half-dead thread holding the lines, nor kill the daemon;
``error`` carries the cause and the heartbeat stops, which the supervisor reports as a stall.
"""
from __future__ import annotations

import time

from appliance.status.button import ButtonTiming
from appliance.status.gpio import ButtonLed
from appliance.status.led import LedView
from tests.helpers import DEADLINE_S
from tests.status.gpio_sim import SimLines


def test_a_read_error_ends_the_loop_with_the_cause_the_led_off_and_the_lines_released():
    lines = SimLines()
    view = LedView(ready=False, state="recording", health="ok")
    led = ButtonLed("/dev/gpiochip-sim", 1, 2, True, lambda p: None, lambda: view, ButtonTiming(), open_lines=lambda: lines)
    led.start()
    try:
        lines.wait_for(lambda: lines.led_on() is True, "LED on")
        lines.fail = OSError(19, "No such device")
        led.threads()[0].join(DEADLINE_S)
        assert not led.threads()[0].is_alive()
        assert led.error == "OSError: [Errno 19] No such device"
        assert lines.closed and lines.led_on() is False
        hb = led.heartbeat
        time.sleep(0.1)  # not a timing assertion: a dead loop cannot move it, however long one waits
        assert led.heartbeat == hb
    finally:
        led.stop(DEADLINE_S)


def test_a_button_held_at_start_is_not_a_press():
    """The line reads pressed when the loop starts: its release is not a press either."""
    lines = SimLines(level=True)
    got = []
    led = ButtonLed("/dev/gpiochip-sim", 1, 2, True, got.append, lambda: LedView(True, "idle", "ok"), ButtonTiming(),
                    open_lines=lambda: lines)
    led.start()
    try:
        t0 = time.monotonic() + 0.05
        lines.schedule([(t0, False)])
        lines.wait_for(lambda: lines.level is False, "the release delivered")
        turns = lines.turns
        lines.wait_for(lambda: lines.turns > turns + 3, "loop turns after it")
        assert got == []
        lines.schedule([(time.monotonic(), True), (time.monotonic() + 0.1, False)])
        lines.wait_for(lambda: got, "the next press")
        assert [p.kind for p in got] == ["short"]
    finally:
        led.stop(DEADLINE_S)
