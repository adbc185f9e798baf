"""The broker goes away for 10 s mid-session: recording never pauses, and nothing raised meanwhile is lost.

Why: the hospital network and its broker fail; the box must keep recording (publishing never
blocks the data path) and the desk must still learn what happened while it was gone. So: a real
daemon records, the real Mosquitto is killed for 10 s, a stop is sent through the local control
socket during the outage (its session_ended event is a row in the outbox), the broker comes back
(empty: no persistence, so nothing is replayed by the broker itself), and then the box's status
flows again and the session_ended event arrives, from the database's outbox. The frames in the
database are continuous across the outage (no gap of seconds).
"""
from __future__ import annotations

import sqlite3
import time

from tests.helpers import wait_until
from tests.runtime.daemon_env import ctl, daemon_env, running_daemon, session_rows, status
from tests.runtime.mqtt_daemon import Broker, mqtt_env, start_connected, watching
from tests.runtime.mqtt_payloads import validate_all

BOX = "testbox"
T = f"agma/{BOX}"


def test_broker_outage_loses_nothing(tmp_path):
    db = tmp_path / "box.sqlite"
    with Broker(tmp_path) as broker, watching(broker.port) as desk:
        env = daemon_env(tmp_path, **mqtt_env(broker.port))
        with running_daemon(env) as proc:
            sid = start_connected(env, proc)
            desk.wait_for(f"{T}/events", lambda e: e.get("kind") == "session_started", "session_started", proc=proc)
            # the outage must fall inside the session's frames: on a loaded machine the first frame can
            # come after session_started reaches the desk, so wait for some stored before pulling the broker
            wait_until(lambda: status(env).get("frames", 0) >= 5, "frames stored before the outage", proc=proc)

            broker.stop()
            t_down = time.time_ns()
            wait_until(lambda: status(env).get("mqtt") != "connected", "the box sees the broker gone", proc=proc)
            frames_at_down = status(env)["frames"]
            time.sleep(10.0)
            during = status(env)
            assert during["state"] == "recording" and during["frames"] > frames_at_down  # never paused
            code, answer = ctl(env, "stop")  # raised during the outage: a session_ended row in the outbox
            assert code == 0 and answer["ok"], answer
            t_stopped = time.monotonic()

            broker.start()
            wait_until(lambda: status(env).get("mqtt") == "connected", "the box reconnected", proc=proc)
            ended = desk.wait_for(f"{T}/events", lambda e: e.get("kind") == "session_ended", "session_ended after the outage",
                                  proc=proc)
            assert ended["session_id"] == sid and ended["detail"].startswith("stopped")
            back = desk.wait_for(f"{T}/status", lambda s: s.get("state") == "idle", "status again",
                                 since=t_stopped, proc=proc)
            assert back["last_end_reason"] == "stopped" and back["last_event"]["kind"] == "session_ended"
            wait_until(lambda: _queued(db) == 0, "the outbox emptied on PUBACK", proc=proc)

        (row,) = session_rows(db)
        assert row["end_reason"] == "stopped" and row["stored"] > 0
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            idx = [r[0] for r in c.execute("SELECT frame_index FROM frames WHERE session_id = ? ORDER BY frame_index",
                                           (row["id"],))]
            t_ns = [r[0] for r in c.execute("SELECT t_ns FROM frames WHERE session_id = ? ORDER BY frame_index", (row["id"],))]
        # never paused: a loaded machine may drop a live frame here and there, never seconds of them
        gaps_s = [(b - a) / 1e9 for a, b in zip(t_ns, t_ns[1:])]
        assert len(set(idx)) == len(idx) and max(gaps_s) < 2.0, f"the recording paused for {max(gaps_s):.1f} s"
        assert t_ns[0] < t_down < t_ns[-1] and (t_ns[-1] - t_down) / 1e9 > 9.0  # the outage lies inside the session
        assert [e["kind"] for e in desk.on(f"{T}/events")].count("session_ended") >= 1
        validate_all(desk.messages, BOX)


def _queued(db) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        return c.execute("SELECT count(*) FROM mqtt_outbox").fetchone()[0]
