"""2,000 hostile payloads through a real broker to a recording daemon: every one answered, nothing broken.

Why: the cmd topic is reachable by anything with a monitor account (or a misconfigured ACL). The
box must answer what it can (an error result, with the request id when one could be read), stay
connected, keep recording without a pause, and still obey the next valid command. The payloads are
the parser fuzz test's corpus (invalid UTF-8, 256 KiB, 5,000-deep JSON, wrong types, unknown
actions) and its deterministic mutations, minus the few that happen to be valid start/stop
commands (they would legitimately change the session); sent in batches, each batch's answers
awaited, so paho's bounded outgoing queue is not what is tested.
"""
from __future__ import annotations

import json
import sqlite3

from appliance.status.commands import Command, parse_command
from tests.helpers import wait_until
from tests.runtime.daemon_env import daemon_env, running_daemon, status
from tests.runtime.mqtt_daemon import Broker, mqtt_env, start_connected, watching
from tests.runtime.mqtt_payloads import validate_all
from tests.status.test_commands_fuzz import CORPUS, _mutations

BOX = "testbox"
T = f"agma/{BOX}"
COUNT = 2000
BATCH = 100


def _payloads() -> list[bytes]:
    out = []
    for p in list(CORPUS) + list(_mutations(COUNT * 2, seed=7)):
        c = parse_command(p, origin="mqtt")
        if isinstance(c, Command) and c.action in ("start", "stop"):
            continue
        out.append(p)
        if len(out) == COUNT:
            return out
    raise AssertionError("not enough payloads")


def test_hostile_commands_through_the_broker(tmp_path):
    payloads = _payloads()
    with Broker(tmp_path) as broker, watching(broker.port, (f"{T}/cmd/result", f"{T}/status", f"{T}/events")) as desk:
        env = daemon_env(tmp_path, **mqtt_env(broker.port))
        with running_daemon(env) as proc:
            sid = start_connected(env, proc)
            for i in range(0, COUNT, BATCH):
                for p in payloads[i:i + BATCH]:
                    desk.client.publish(f"{T}/cmd", p, qos=1)
                wait_until(lambda n=i + BATCH: len(desk.on(f"{T}/cmd/result")) >= n, f"answers to {i + BATCH} payloads",
                           proc=proc)
            results = desk.on(f"{T}/cmd/result")
            assert len(results) == COUNT
            refused = [r for r in results if r["ok"] is False]
            assert len(refused) >= COUNT * 0.9 and all(isinstance(r["error"], str) and r["error"] for r in refused)
            assert status(env)["state"] == "recording" and status(env)["mqtt"] == "connected"

            desk.publish(f"{T}/cmd", json.dumps({"action": "stop", "request_id": "the-real-one"}))
            done = desk.wait_for(f"{T}/cmd/result", lambda r: r.get("request_id") == "the-real-one", "the valid stop",
                                 proc=proc)
            assert done == {"request_id": "the-real-one", "ok": True, "session_id": sid}
        with sqlite3.connect(f"file:{tmp_path / 'box.sqlite'}?mode=ro", uri=True) as c:
            t_ns = [r[0] for r in c.execute("SELECT t_ns FROM frames ORDER BY frame_index")]
            (reason,) = c.execute("SELECT end_reason FROM sessions").fetchone()
        gaps_s = [(b - a) / 1e9 for a, b in zip(t_ns, t_ns[1:])]
        assert reason == "stopped" and len(t_ns) > 0 and max(gaps_s) < 2.0  # the recording never paused
        validate_all(desk.messages, BOX)
