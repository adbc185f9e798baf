"""A pose engine that stops returning: the supervisor names the stalled stage, shutdown still ends.

Why: a hung TensorRT call or a wedged GPU cannot be interrupted from Python. The box must notice
by itself (the inference heartbeat stops: health `error`, "stalled: inference"), and a shutdown
must not wait for the stuck call for ever: after supervisor.join_timeout_s the stuck thread is
named, so the command can end the process (os._exit) with the session already closed.
The engine here is a real pose stage (the simulated model) whose estimate() blocks on a test
event from the 10th frame on: the fault is injected, the runtime under test is the real one.
"""
from __future__ import annotations

import threading
import time

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.pose.stage import build
from appliance.runtime import machine as m
from appliance.runtime.box import Box, BoxOptions

from tests.helpers import DEADLINE_S, wait_until


class HangingPose:
    """The simulated model, hanging from its 10th frame until released."""

    def __init__(self, inner, release: threading.Event) -> None:
        self.inner, self.release, self.n = inner, release, 0
        self.info, self.decoder = inner.info, inner.decoder

    def estimate(self, frame):
        self.n += 1
        if self.n >= 10:
            self.release.wait()
        return self.inner.estimate(frame)


def test_stalled_inference_is_named_and_shutdown_ends(tmp_path):
    cfg = config.load(None, {"store.db": (str(tmp_path / "box.sqlite"), "test"),
                             "supervisor.stall_after_s": (0.5, "test"), "supervisor.join_timeout_s": (1.0, "test"),
                             "store.dump_dir": ("off", "test"), "store.min_free_mb": (0.0, "test")}, environ={})
    release = threading.Event()
    box = Box(cfg, BoxOptions(live=True), lambda: SyntheticSource(render=False),
              lambda info: HangingPose(build(cfg, info), release))
    box.open()
    runner = threading.Thread(target=box.run, name="test-control-loop")
    try:
        runner.start()
        wait_until(lambda: box.health().ready, "the box ready")
        assert box.request("start", "socket")["ok"]
        h = wait_until(lambda: (h := box.health()).stalled and h, "the stall noticed")
        assert h.stalled == ("inference",) and h.health == "error" and "stalled: inference" in h.error
        box.post(m.Shutdown("signal", "shutdown"))
        runner.join(DEADLINE_S)
        assert not runner.is_alive(), "the control loop did not end"
        t0 = time.monotonic()
        stuck = box.close()
        assert "inference" in stuck
        assert time.monotonic() - t0 < DEADLINE_S
        [outcome] = box.outcomes
        assert outcome.end_reason == "shutdown"
    finally:
        release.set()  # let the stuck call return, so that nothing is left running
        for t in box.inference.threads():
            t.join(DEADLINE_S)
        if box.writer is not None:
            box.close()
