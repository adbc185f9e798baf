"""A paced synthetic source delivers frame k at start + k/fps, by a simulated clock.

The pacing is what makes the synthetic source stand in for a camera: frames come at the camera's
rate, on a fixed schedule that a slow consumer does not shift (it catches up instead, as a camera
does not wait either). Timing this against the wall clock would test the machine; so the
source's clock and wait are injected (``clock=``, ``wait=``) and the schedule is checked exactly.
The speed of a live session on real hardware (its fps, its drops) is `agma bench`'s business.
"""
from __future__ import annotations

import pytest

from appliance.capture.synthetic import SyntheticSource

FPS = 30.0


class SimClock:
    """Simulated monotonic time: it moves only when the source waits or the consumer works."""

    def __init__(self) -> None:
        self.now = 100.0  # an arbitrary origin: only differences count
        self.waits: list[float] = []
        self.close_at: float | None = None

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        """The source's wait: True (closed) if close_at falls within it, else the full wait passes."""
        self.waits.append(seconds)
        if self.close_at is not None and self.now + seconds >= self.close_at:
            self.now = self.close_at
            return True
        self.now += seconds
        return False


def _deliveries(src, sim, work_s) -> list[float]:
    """The simulated time at which each frame arrives; the consumer then works ``work_s(index)`` seconds."""
    times = []
    for f in src.frames():
        times.append(sim.now - 100.0)
        sim.now += work_s(f.index)
    return times


def test_each_frame_on_its_slot():
    sim = SimClock()
    src = SyntheticSource(seed=1, n_frames=10, render=False, clock=sim.clock, wait=sim.wait)
    got = _deliveries(src, sim, lambda k: 0.004)  # a consumer much faster than the camera
    assert got == pytest.approx([k / FPS for k in range(10)], abs=1e-9)
    assert sim.waits == pytest.approx([1 / FPS - 0.004] * 9, abs=1e-9)  # no wait before frame 0


def test_a_slow_consumer_is_caught_up_not_shifted():
    """Frames 2-3 take 0.1 s each (3 slots): the source does not wait while behind, then rejoins k/fps."""
    sim = SimClock()
    src = SyntheticSource(seed=1, n_frames=12, render=False, clock=sim.clock, wait=sim.wait)
    got = _deliveries(src, sim, lambda k: 0.1 if k in (2, 3) else 0.0)
    expected, t = [], 0.0
    for k in range(12):  # frame k: its slot, or as soon as the consumer is back when it is late
        t = max(k / FPS, t)
        expected.append(t)
        t += 0.1 if k in (2, 3) else 0.0
    assert got == pytest.approx(expected, abs=1e-9)
    assert got[-1] == pytest.approx(11 / FPS)  # back on the original schedule: no drift
    assert all(w > 0 for w in sim.waits)  # never asked to wait a negative or zero time


def test_unpaced_never_waits():
    sim = SimClock()
    src = SyntheticSource(seed=1, n_frames=10, paced=False, render=False, clock=sim.clock, wait=sim.wait)
    assert len(_deliveries(src, sim, lambda k: 0.0)) == 10
    assert sim.waits == [] and sim.now == 100.0


def test_close_during_a_wait_ends_the_frames():
    """close() wakes the wait (it returns True): no frame after it, however long the next slot is."""
    sim = SimClock()
    sim.close_at = 100.0 + 2.5 / FPS  # between frame 2 and frame 3
    src = SyntheticSource(seed=1, n_frames=None, render=False, clock=sim.clock, wait=sim.wait)
    assert [f.index for f in src.frames()] == [0, 1, 2]


def test_the_default_clock_is_real():
    """Without injection it paces by the real clock: 4 frames at 30 fps take at least 3/30 s (a lower bound)."""
    import time

    t0 = time.monotonic()
    assert len(list(SyntheticSource(seed=1, n_frames=4, render=False).frames())) == 4
    assert time.monotonic() - t0 >= 3 / FPS - 1e-3
