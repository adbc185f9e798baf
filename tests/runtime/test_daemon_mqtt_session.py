"""The daemon over MQTT: retained online and status, a retained start ignored, a start by request id,
a repeated request id not run twice, the Last Will on SIGKILL.

Why: the monitoring desk must see every box and command it safely. A fresh subscriber learns the
box's state from retained messages alone; a stale retained ``start`` (left on the broker by a
careless client) must never start a recording after a reboot; a command answered once is answered
the same way again without running twice (QoS 1 may deliver it twice); a box that dies without a
word shows ``offline`` through its Last Will. Real `agma daemon`, real Mosquitto, real SIGKILL; every
JSON payload it published is checked against its schema (schemas/mqtt/).
"""
from __future__ import annotations

import json
import signal
import time

from tests.helpers import DEADLINE_S
from tests.runtime.daemon_env import daemon_env, running_daemon, session_rows, status
from tests.runtime.mqtt_daemon import Broker, mqtt_env, watching
from tests.runtime.mqtt_payloads import validate_all

BOX = "testbox"
T = f"agma/{BOX}"


def test_daemon_over_mqtt(tmp_path):
    with Broker(tmp_path) as broker, watching(broker.port) as desk:
        # left on the broker before the box boots: must be ignored
        desk.publish(f"{T}/cmd", json.dumps({"action": "start", "request_id": "stale-retained"}), retain=True)
        env = daemon_env(tmp_path, **mqtt_env(broker.port))
        with running_daemon(env) as proc:
            with watching(broker.port, (f"{T}/availability", f"{T}/status")) as fresh:
                assert fresh.wait_for(f"{T}/availability", lambda p: p == "online", "retained online", proc=proc)
                first = fresh.wait_for(f"{T}/status", lambda p: isinstance(p, dict), "a retained status", proc=proc)
                assert first["box_id"] == BOX and first["state"] in ("idle", "starting", "recording")
            time.sleep(1.0)  # room for a wrongly obeyed retained start to show
            assert status(env)["state"] == "idle" and session_rows(tmp_path / "box.sqlite") == []
            assert not [r for r in desk.on(f"{T}/cmd/result") if r.get("request_id") == "stale-retained"]

            desk.publish(f"{T}/cmd", json.dumps({"action": "start", "request_id": "desk-1", "bed_label": "Bed 4",
                                                 "sent_at": time.time()}))
            answer = desk.wait_for(f"{T}/cmd/result", lambda r: r.get("request_id") == "desk-1", "the start's answer",
                                   proc=proc)
            assert answer["ok"] is True and answer["session_id"]
            sid = answer["session_id"]
            started = desk.wait_for(f"{T}/events", lambda e: e.get("kind") == "session_started", "session_started",
                                    proc=proc)
            assert started["session_id"] == sid and started["box_id"] == BOX
            desk.wait_for(f"{T}/status", lambda s: s.get("state") == "recording" and s.get("session_id") == sid
                          and s.get("bed_label") == "Bed 4" and s.get("frames", 0) > 0, "status recording", proc=proc)

            # the same request again: its first answer, nothing run twice
            t_repeat = time.monotonic()
            desk.publish(f"{T}/cmd", json.dumps({"action": "start", "request_id": "desk-1"}))
            again = desk.wait_for(f"{T}/cmd/result", lambda r: r.get("request_id") == "desk-1", "the repeated answer",
                                  since=t_repeat, proc=proc)
            assert again == answer
            # stale: sent long ago
            desk.publish(f"{T}/cmd", json.dumps({"action": "stop", "request_id": "old", "sent_at": time.time() - 3600}))
            stale = desk.wait_for(f"{T}/cmd/result", lambda r: r.get("request_id") == "old", "the stale refusal",
                                  proc=proc)
            assert stale["ok"] is False and "stale" in stale["error"]
            assert status(env)["state"] == "recording"
            desk.wait_for(f"{T}/stats", lambda s: isinstance(s, dict) and "latency_ms" in s, "stats", proc=proc)

            t_kill = time.monotonic()
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=DEADLINE_S)
            desk.wait_for(f"{T}/availability", lambda p: p == "offline", "offline by the Last Will", since=t_kill)
        rows = session_rows(tmp_path / "box.sqlite")
        assert len(rows) == 1 and rows[0]["uid"] == sid and rows[0]["bed_label"] == "Bed 4"
        validate_all(desk.messages, BOX)
