"""A simulated button line and LED line for the ButtonLed loop's tests (no GPIO here).

It stands in for status/gpio.py's GpiodLines, the hardware adapter, and nothing else: edges are
scheduled with their monotonic timestamps and delivered by ``read_edges`` only once they are due
(as the kernel delivers timestamped events), LED writes are logged with the time they happened.
The decoder and the LED patterns the loop runs are the real ones.
"""
from __future__ import annotations

import threading
import time

from tests.helpers import DEADLINE_S


class SimLines:
    def __init__(self, level: bool = False) -> None:
        self._cv = threading.Condition()
        self._pending: list[tuple[float, bool]] = []
        self.level = level
        self.led: list[tuple[float, bool]] = []
        self.turns = 0
        self.closed = False
        self.fail: Exception | None = None

    # -- what the test does ---------------------------------------------------------------------------
    def schedule(self, edges: list[tuple[float, bool]]) -> None:
        with self._cv:
            self._pending = sorted(self._pending + list(edges))
            self._cv.notify_all()

    def wait_for(self, predicate, what: str, deadline_s: float = DEADLINE_S) -> None:
        end = time.monotonic() + deadline_s
        with self._cv:
            while not predicate():
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{what}: not within {deadline_s:.0f} s")
                self._cv.wait(min(left, 0.05))

    def led_on(self) -> bool | None:
        with self._cv:
            return self.led[-1][1] if self.led else None

    # -- the LineAdapter the loop uses -----------------------------------------------------------------
    def read_level(self) -> bool:
        with self._cv:
            return self.level

    def read_edges(self, timeout_s: float) -> list[tuple[float, bool]]:
        end = time.monotonic() + timeout_s
        with self._cv:
            self.turns += 1
            self._cv.notify_all()
            while True:
                if self.fail is not None:
                    raise self.fail
                now = time.monotonic()
                due = [e for e in self._pending if e[0] <= now]
                if due:
                    self._pending = self._pending[len(due):]
                    self.level = due[-1][1]
                    return due
                if now >= end:
                    return []
                wake = min(end, self._pending[0][0]) if self._pending else end
                self._cv.wait(max(0.0, wake - now))

    def set_led(self, on: bool) -> None:
        with self._cv:
            self.led.append((time.monotonic(), on))
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self.closed = True
            self._cv.notify_all()
