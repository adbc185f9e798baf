"""The [button] keys: defaults that keep the box's GPIO off elsewhere, validation, and the sink they build.

Why: a development machine has no GPIO, so the button is off unless asked for; a debounce or hold
time out of range must be refused at load (exit 78) instead of making the button unusable.
"""
from __future__ import annotations

import pytest

from appliance import config
from appliance.errors import ConfigError
from appliance.status.gpio import ButtonLed
from appliance.status.led import LedView


def test_defaults():
    cfg = config.load(environ={})
    assert cfg["button.enabled"] is False
    assert (cfg["button.chip"], cfg["button.line"], cfg["button.led_line"]) == ("/dev/gpiochip0", 105, 106)
    assert cfg["button.active_low"] is True and cfg["button.led_active_low"] is False
    assert (cfg["button.debounce_ms"], cfg["button.long_press_s"]) == (30.0, 2.0)


def test_out_of_range_values_are_refused_with_the_key():
    with pytest.raises(ConfigError, match=r"environment AGMA_BUTTON__DEBOUNCE_MS: button.debounce_ms: must be >= 1 ms"):
        config.load(environ={"AGMA_BUTTON__DEBOUNCE_MS": "0"})
    with pytest.raises(ConfigError, match=r"button.long_press_s: must be >= 0.5 s"):
        config.load(environ={"AGMA_BUTTON__LONG_PRESS_S": "0.1"})
    with pytest.raises(ConfigError, match=r"button.line: must be >= 0"):
        config.load(environ={"AGMA_BUTTON__LINE": "-1"})


def test_from_config_builds_the_sink_the_keys_describe():
    cfg = config.load(environ={"AGMA_BUTTON__DEBOUNCE_MS": "50", "AGMA_BUTTON__LONG_PRESS_S": "3",
                               "AGMA_BUTTON__CHIP": "tegra234-gpio-aon", "AGMA_BUTTON__LINE": "1",
                               "AGMA_BUTTON__LED_LINE": "0", "AGMA_BUTTON__LED_ACTIVE_LOW": "true"})
    sink = ButtonLed.from_config(cfg, lambda p: None, lambda: LedView(True, "idle", "ok"))
    assert (sink.chip, sink.button_line, sink.led_line, sink.active_low, sink.led_active_low) == \
        ("tegra234-gpio-aon", 1, 0, True, True)
    assert (sink.timing.debounce_s, sink.timing.long_press_s) == (0.05, 3.0)
    assert sink.name == "button-led" and sink.threads() == []
