"""Opening the button and LED lines through the real gpiod library, on devices that are not GPIO chips.

Why: on the box a wrong button.chip, a missing udev rule or a line taken by another program must
stop the daemon with one line naming the key and the cause. There is no GPIO chip (nor the
gpio-sim module) here, so these are the cases the real library can show on a development machine.
"""
from __future__ import annotations

import pytest

from appliance.errors import AgmaError
from appliance.status.gpio import GpiodLines, import_gpiod


def test_the_real_library_is_gpiod_2():
    gpiod = import_gpiod()
    assert int(gpiod.__version__.split(".")[0]) == 2


def test_a_missing_chip_names_the_key_and_the_cause():
    with pytest.raises(AgmaError) as err:
        GpiodLines("/dev/gpiochip-agma-missing", 105, 106, active_low=True)
    assert str(err.value) == ("button.chip /dev/gpiochip-agma-missing: cannot open the button and LED lines: "
                              "no such device (gpiodetect lists the chips; is button.chip right?)")


def test_a_device_that_is_not_a_gpio_chip(tmp_path):
    for path in ("/dev/null", str(tmp_path)):
        with pytest.raises(AgmaError) as err:
            GpiodLines(path, 105, 106, active_low=True)
        assert str(err.value) == f"button.chip {path}: cannot open the button and LED lines: not a GPIO character device"


def test_a_chip_label_that_no_chip_has():
    with pytest.raises(AgmaError, match=r"^button.chip 'tegra234-gpio': no GPIO chip has that label; found: "):
        GpiodLines("tegra234-gpio", 105, 106, active_low=True)


def test_the_same_line_for_button_and_led_is_refused_before_anything_opens():
    with pytest.raises(AgmaError, match="button.line and button.led_line are both 7"):
        GpiodLines("/dev/gpiochip0", 7, 7, active_low=True)
