"""Rings left by killed boxes are swept when a capture process starts, whatever their name.

Why: a ring is named after the box's pid, so a box restarted after a SIGKILL or a power loss never
meets its predecessor's name again; without a sweep each restart would leave one ring's worth of
RAM in /dev/shm until reboot. A live writer's ring must survive the sweep. Real segments, a real
writer process killed for real.
"""
from __future__ import annotations

import os
import subprocess
import sys

from appliance.capture.ring import FrameRing, segment_path, sweep_stale
from tests.helpers import DEADLINE_S, spawned, wait_until

PREFIX = f"agma-test-sweep-{os.getpid()}-"


def test_sweep_removes_only_dead_writers_rings():
    code = ("import sys, time; from appliance.capture.ring import FrameRing; "
            "FrameRing.create(sys.argv[1], 2, 8, 4); print('ok', flush=True); time.sleep(600)")
    dead, alive = PREFIX + "dead", PREFIX + "alive"
    with spawned([sys.executable, "-c", code, dead], stdout=subprocess.PIPE, text=True) as victim:
        assert victim.stdout.readline().strip() == "ok"
        victim.kill()
        victim.wait(timeout=DEADLINE_S)
    ring = FrameRing.create(alive, 2, 8, 4)
    try:
        assert os.path.exists(segment_path(dead)) and os.path.exists(segment_path(alive))
        assert sweep_stale(PREFIX) == [dead]
        assert not os.path.exists(segment_path(dead)) and os.path.exists(segment_path(alive))
        assert sweep_stale(PREFIX) == []
    finally:
        ring.close()
    wait_until(lambda: not os.path.exists(segment_path(alive)), "the live ring unlinked at its close")
