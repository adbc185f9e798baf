"""button.enabled without the GPIO library: one line that says what to install, at start, and no thread.

Why: the box's installer may forget the `box` extra; the daemon must say so plainly instead of
a traceback, and Ubuntu's libgpiod 1.x module (same import name, other API) must be named as such.
"""
from __future__ import annotations

import subprocess
import sys
import types

import pytest

from appliance.errors import AgmaError
from appliance.status.button import ButtonTiming
from appliance.status.gpio import ButtonLed
from appliance.status.led import LedView
from tests.helpers import REPO


def make() -> ButtonLed:
    return ButtonLed("/dev/gpiochip0", 105, 106, True, lambda p: None, lambda: LedView(True, "idle", "ok"), ButtonTiming())


def test_missing_library_is_one_clear_line_at_start(monkeypatch):
    monkeypatch.setitem(sys.modules, "gpiod", None)  # `import gpiod` raises ImportError
    led = make()
    with pytest.raises(AgmaError) as err:
        led.start()
    assert str(err.value) == ("button.enabled is true but the GPIO library is not installed: "
                              "pip install 'agma-appliance[box]' (or pip install 'gpiod>=2.5,<3')")
    assert led.threads() == []


def test_the_libgpiod_1_module_is_named(monkeypatch):
    old = types.ModuleType("gpiod")
    old.__version__ = "1.6.3"
    old.Chip = object  # the v1 API: Chip, Line, ... but no request_lines / LineSettings
    monkeypatch.setitem(sys.modules, "gpiod", old)
    with pytest.raises(AgmaError, match=r"^button.enabled is true but the gpiod module found \(1\.6\.3, .*\) is "
                                        r"libgpiod 1\.x's: pip install 'gpiod>=2\.5,<3'$"):
        make().start()


def test_gpio_is_the_only_module_importing_the_library_and_only_when_opened():
    """Importing the status package (and the runtime pieces that use it) loads no GPIO library."""
    sources = [p for p in (REPO / "appliance").rglob("*.py") if "import gpiod" in p.read_text(encoding="utf-8")
               or "from gpiod" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(REPO).as_posix() for p in sources] == ["appliance/status/gpio.py"]
    code = "import sys, appliance.status.gpio, appliance.status.led; assert 'gpiod' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120)
