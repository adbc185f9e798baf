"""`python -m appliance.status.gpio`, the wiring check on the box: here, its one-line refusals.

Why: the person wiring the box runs it first; a wrong chip must answer with the key and the cause
and a non-zero exit, as the daemon would, not a traceback.
"""
from __future__ import annotations

import sys

from tests.helpers import REPO, clean_env, run


def test_a_device_that_is_not_a_gpio_chip_is_one_line_and_exit_1():
    proc = run([sys.executable, "-m", "appliance.status.gpio", "--chip", "/dev/null", "--seconds", "1"],
               cwd=REPO, env=clean_env())
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "agma: button.chip /dev/null: cannot open the button and LED lines: not a GPIO character device"]
