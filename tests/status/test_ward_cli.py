"""`agma ward` against a real Mosquitto, fed by the box's real MQTT sink: what the desk prints.

A broker of the test's own (a free loopback port) carries the retained availability and status of
real ``MqttSink``s (status/mqtt_sink.py, each box simulated recording: bench/fleet.py SimBox), of a
box that shut down cleanly, and a status nobody can read. `agma ward --json`, run as a user runs
it, lists them all, each judged right (online and recording, offline, a problem); `agma ward`'s
live table shows the box and ends with exit 0 on Ctrl-C; a broker nobody listens on is one line
and exit 69, an unreadable password file one line and exit 1, never a traceback.
"""
from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal

import pytest

from appliance.bench.fleet import SimBox, free_port
from appliance.status.mqtt import Link, Security
from appliance.status.mqtt_sink import MqttSettings, MqttSink
from tests.helpers import DEADLINE_S, Lines, agma, last_json, start_agma, wait_until
from tests.runtime.mqtt_daemon import Broker

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
@pytest.fixture(autouse=True)
def _needs_mosquitto():
    """Not a skip: scripts/test.sh installs Mosquitto, so its absence is a setup failure to see."""
    assert MOSQUITTO is not None, ("needs Debian's mosquitto: scripts/test.sh installs it as root, "
                                    "else: sudo apt-get install -y mosquitto mosquitto-clients")


@contextlib.contextmanager
def broker(tmp_path):
    """The test's own Mosquitto (tests/runtime/mqtt_daemon.py Broker); -> its port."""
    with Broker(tmp_path) as b:
        yield b.port


@contextlib.contextmanager
def sinks(port: int, *boxes: SimBox):
    started = []
    try:
        for box in boxes:
            s = MqttSettings("127.0.0.1", port, "agma", box.box_id, 30, 1.0, 60.0, 30.0, Security(), "test")
            sink = MqttSink(s, box.view, box.answer)
            sink.start()
            started.append(sink)
        yield started
    finally:
        for sink in started:
            sink.stop(5.0)


def _publish_retained(port: int, topic: str, payload: bytes) -> None:
    """One retained message through a Link of our own, acknowledged by the broker before it returns."""
    inbox: queue.Queue = queue.Queue()
    link = Link("test-pub", "127.0.0.1", port, "test-pub", Security(), 30, inbox)
    link.start()
    try:
        wait_until(lambda: link.connected, "the publisher connected")
        mid = link.publish(topic, payload, qos=1, retain=True)
        assert mid is not None
        while True:
            e = inbox.get(timeout=DEADLINE_S)
            if getattr(e, "kind", None) == "acked" and e.mid == mid:
                return
    finally:
        link.stop(5.0)


def _rows(port: int) -> list[dict]:
    proc = agma("ward", "--json", env={"AGMA_WARD__PORT": str(port), "AGMA_WARD__HOST": "127.0.0.1"})
    assert proc.returncode == 0, proc.stderr
    rows = last_json(proc)
    assert isinstance(rows, list)
    return rows


def test_ward_json_lists_every_box_judged_right(tmp_path):
    with broker(tmp_path) as port:
        gone = SimBox(7)
        with sinks(port, gone):  # a box that shut down cleanly: availability offline, its last status kept
            wait_until(lambda: any(r["box"] == gone.box_id and r["state"] == "recording" for r in _rows(port)),
                       "the first box seen")
        _publish_retained(port, "agma/junk-box/status", b"\xff not a status")
        live = SimBox(1)
        with sinks(port, live):
            def all_three():
                rows = {r["box"]: r for r in _rows(port)}
                return rows if rows.get(live.box_id, {}).get("availability") == "online" and len(rows) == 3 else None

            rows = wait_until(all_three, "agma ward --json lists the running box")
            assert list(rows) == sorted([gone.box_id, live.box_id, "junk-box"])
            r = rows[live.box_id]
            assert r["state"] == "recording" and r["bed"] == live.bed and r["session"] == live.session
            assert r["camera"] == "ok" and r["fps"] == 30.0 and not r["offline"] and not r["stale"]
            assert r["age_s"] >= 0 and r["heartbeat_s"] == 1.0 and r["problem"] is None
            g = rows[gone.box_id]
            assert g["offline"] and g["availability"] == "offline" and g["state"] == "recording"
            assert "not UTF-8" in rows["junk-box"]["problem"]


def test_flags_override_the_config_and_an_unreachable_broker_is_one_line_exit_69():
    port = free_port()  # nothing listens there
    proc = agma("ward", "--json", "--broker", f"127.0.0.1:{port}", env={"AGMA_WARD__PORT": "1"})
    assert proc.returncode == 69, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("agma ward: cannot connect to 127.0.0.1:") and str(port) in line
    assert last_json(proc)["ok"] is False and "Traceback" not in proc.stderr
    live = agma("ward", "--broker", f"127.0.0.1:{port}")
    assert live.returncode == 69 and len(live.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, code, says", [
    (["--password-file", "/nonexistent/pw", "--username", "desk"], 1, "cannot read it"),
    (["--broker", "127.0.0.1:99999"], 2, "not in 1..65535"),
    (["--broker", "a:b:c"], 2, "expected HOST:PORT"),
    (["--tls-cert", "/nonexistent/c.pem"], 1, "no such file"),
])
def test_bad_flags_are_one_line(argv, code, says):
    proc = agma("ward", "--json", *argv)
    assert proc.returncode == code, proc.stderr
    assert says in proc.stderr.strip().splitlines()[-1] and "Traceback" not in proc.stderr


def test_the_live_table_shows_the_box_and_ctrl_c_ends_it_with_0(tmp_path):
    with broker(tmp_path) as port:
        box = SimBox(3)
        with sinks(port, box):
            # FORCE_COLOR: rich redraws as on a terminal, so the table's lines reach the pipe while it runs
            with start_agma("ward", "--broker", f"127.0.0.1:{port}", env={"FORCE_COLOR": "1", "COLUMNS": "250"}) as proc:
                out = Lines(proc.stdout)
                assert out.wait_for(lambda line: box.box_id in line and "recording" in line), \
                    f"no row for {box.box_id}:\n{out.text()}\n{proc.stderr.read() if proc.poll() is not None else ''}"
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=DEADLINE_S)  # a deadline: a ward deaf to Ctrl-C fails, never hangs
                assert proc.returncode == 0, err
                assert "Traceback" not in err
