"""A control loop that stops turning stops the watchdog's pings too; they resume once it turns.

Why: the supervisor's judgement (Health.stalled) is made by the control loop itself, between
events. A control loop stuck in a call (a store call that never returns) would leave the last
snapshot in place — "nothing stalled" — and the pings would go on for ever. So the notifier
counts the snapshot's own age (runtime/factories.py ``systemd_sink``): older than
supervisor.stall_after_s, the control loop is the stalled stage. Here a real Box is opened (its
store, source, engine and notifier running) but its control loop is not run at first; a real
datagram socket receives what the notifier sends.
"""
from __future__ import annotations

import threading

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.pose.stage import build
from appliance.runtime import machine as m
from appliance.runtime.box import Box, BoxOptions
from appliance.runtime.factories import systemd_sink
from tests.helpers import DEADLINE_S

from .notify_socket import NotifySocket


def test_stuck_control_loop_withholds_pings(tmp_path):
    cfg = config.load(None, {"store.db": (str(tmp_path / "box.sqlite"), "test"),
                             "supervisor.stall_after_s": (0.5, "test"), "store.dump_dir": ("off", "test"),
                             "store.min_free_mb": (0.0, "test")}, environ={})
    with NotifySocket(tmp_path) as ns:
        environ = ns.env(watchdog_usec=400_000)  # a ping every 0.2 s
        box = Box(cfg, BoxOptions(live=True), lambda: SyntheticSource(render=False), lambda info: build(cfg, info),
                  sinks=lambda b: [systemd_sink(cfg, b, environ)])
        runner = threading.Thread(target=box.run, name="test-control-loop")
        box.open()
        try:
            stalled = ns.wait_for(lambda ms: next((i for i, x in enumerate(ms) if x.key == "STATUS"
                                                   and "stalled: control-loop" in x.value), None),
                                  "STATUS= naming the control loop")
            runner.start()  # the loop turns: fresh snapshots again
            resumed = ns.wait_for(lambda ms: next((i for i, x in enumerate(ms) if i > stalled and x.key == "STATUS"
                                                   and "stalled" not in x.value), None), "a STATUS= without the stall")
            ns.wait_for(lambda ms: any(x.key == "WATCHDOG" for x in ms[resumed:]), "pings again")
            box.post(m.Shutdown("signal", "shutdown"))
            runner.join(DEADLINE_S)
            assert not runner.is_alive()
        finally:
            if runner.is_alive():
                box.post(m.Shutdown("signal", "shutdown"))
                runner.join(DEADLINE_S)
            assert box.close() == []
        ms = ns.snapshot()
    keys = [x.key for x in ms]
    assert keys[0] == "READY" and "WATCHDOG" in keys[:stalled], keys  # pinged while the snapshot was fresh
    assert "WATCHDOG" not in keys[stalled:resumed], keys  # none while the control loop was stuck
    stop = keys.index("STOPPING")
    assert keys.count("STOPPING") == 1 and all(i < stop for i, k in enumerate(keys) if k == "WATCHDOG"), keys
