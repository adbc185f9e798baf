"""The bridge configuration docs/mqtt.md gives a box's local Mosquitto really bridges to a hospital's.

The snippet between docs/mqtt.md's bridge markers is run as written, except for what only a real
deployment has (the hospital's address, its CA file, the persistence folder, the listener's port):
a "hospital" Mosquitto on loopback with TLS (trustme certificates) and a box's local Mosquitto with
the snippet. The box's real MQTT sink talks to the local one only; at the hospital, `agma ward
--json` (over TLS) sees the box online and recording, a command sent at the hospital reaches the
box and its answer comes back, an event published while the hospital broker is down arrives once
it is up again (the local broker's queue for the bridge: what the durability section promises),
and the box's clean shutdown shows as offline at the hospital.
"""
from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
import trustme

from appliance.bench.fleet import SimBox, free_port
from appliance.status.mqtt import Incoming, Link, Security
from appliance.status.mqtt_sink import MqttSettings, MqttSink
from tests.helpers import DEADLINE_S, REPO, Lines, agma, last_json, spawned, wait_until

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)
MOSQUITTO_SUB = shutil.which("mosquitto_sub")
@pytest.fixture(autouse=True)
def _needs_mosquitto():
    """Not a skip: scripts/test.sh installs Mosquitto, so its absence is a setup failure to see."""
    assert MOSQUITTO is not None and MOSQUITTO_SUB is not None, ("needs Debian's mosquitto and its clients: scripts/test.sh installs it as root, "
                                    "else: sudo apt-get install -y mosquitto mosquitto-clients")
BOX = "nicu-03"


def _snippet() -> str:
    text = (REPO / "docs" / "mqtt.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- bridge:begin -->\n```\n(.*?)```\n<!-- bridge:end -->", text, flags=re.S)
    assert m, "docs/mqtt.md has no bridge block"
    return m.group(1)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def mosquitto(conf_path, port: int, log_path):
    with open(log_path, "ab") as log, spawned([MOSQUITTO, "-c", str(conf_path)], stdout=log,
                                              stderr=subprocess.STDOUT) as proc:
        wait_until(lambda: _listening(port), f"mosquitto listening on {port}", proc=proc)
        yield proc


def _root_line() -> str:
    return "user root\n" if os.geteuid() == 0 else ""


@pytest.fixture
def certs(tmp_path):
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    paths = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "server.pem", "key": tmp_path / "server.key"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    return paths


def _hospital_conf(tmp_path, port: int, certs) -> object:
    conf = tmp_path / "hospital.conf"
    (tmp_path / "hospital-db").mkdir(exist_ok=True)
    conf.write_text(f"listener {port} 127.0.0.1\ncafile {certs['ca']}\ncertfile {certs['cert']}\n"
                    f"keyfile {certs['key']}\nallow_anonymous true\npersistence true\n"
                    f"persistence_location {tmp_path / 'hospital-db'}/\n" + _root_line())
    return conf


def _box_conf(tmp_path, local_port: int, hospital_port: int, certs) -> object:
    text = _snippet()
    for old, new in (("listener 1883 127.0.0.1", f"listener {local_port} 127.0.0.1"),
                     ("address mqtt.hospital.example:8883", f"address 127.0.0.1:{hospital_port}"),
                     ("bridge_cafile /etc/agma/hospital-ca.pem", f"bridge_cafile {certs['ca']}"),
                     # where Debian's main conf would put it
                     ("persistence true\n", f"persistence true\npersistence_location {tmp_path / 'box-db'}/\n")):
        assert old in text, f"the bridge snippet no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    (tmp_path / "box-db").mkdir(exist_ok=True)
    conf = tmp_path / "box.conf"
    conf.write_text(text + _root_line())
    return conf


def _ward(port: int, certs) -> dict:
    proc = agma("ward", "--json", "--broker", f"127.0.0.1:{port}", "--tls-ca", str(certs["ca"]))
    assert proc.returncode == 0, proc.stderr
    return {r["box"]: r for r in last_json(proc)}


def _client(port: int, certs, name: str, subscriptions=()) -> tuple[Link, queue.Queue]:
    inbox: queue.Queue = queue.Queue()
    link = Link(name, "127.0.0.1", port, name, Security(tls_ca=str(certs["ca"])) if certs else Security(), 30, inbox,
                subscriptions=tuple(subscriptions))
    link.start()
    wait_until(lambda: link.connected, f"{name} connected")
    return link, inbox


def test_the_documented_bridge_carries_a_box_to_the_hospital(tmp_path, certs):
    hport, lport = free_port(), free_port()
    hconf, bconf = _hospital_conf(tmp_path, hport, certs), _box_conf(tmp_path, lport, hport, certs)
    box = SimBox(3)
    box.box_id = BOX
    settings = MqttSettings("127.0.0.1", lport, "agma", BOX, 30, 1.0, 60.0, 30.0, Security(), "test")
    with mosquitto(hconf, hport, tmp_path / "hospital.log") as hospital, \
            mosquitto(bconf, lport, tmp_path / "box.log"):
        sink = MqttSink(settings, box.view, box.answer)
        sink.start()
        try:
            # the desk at the hospital sees the box, through the bridge, over TLS
            wait_until(lambda: _ward(hport, certs).get(BOX, {}).get("state") == "recording", "the box seen at the hospital")
            row = _ward(hport, certs)[BOX]
            assert row["availability"] == "online" and row["bed"] == box.bed and not row["offline"]

            # a command sent at the hospital reaches the box, its answer comes back
            desk, inbox = _client(hport, certs, "desk-cmd", [f"agma/{BOX}/cmd/result"])
            try:
                sent: set[str] = set()

                def answered():
                    rid = f"r{len(sent)}"
                    sent.add(rid)
                    desk.publish(f"agma/{BOX}/cmd", json.dumps({"action": "status", "request_id": rid,
                                                                "sent_at": time.time()}), qos=1)
                    end = time.monotonic() + 1.0
                    while time.monotonic() < end:
                        try:
                            item = inbox.get(timeout=0.1)
                        except queue.Empty:
                            continue
                        if isinstance(item, Incoming) and json.loads(item.payload).get("request_id") in sent:
                            return json.loads(item.payload)
                    return None

                result = wait_until(answered, "a command's answer back at the hospital")
                assert result["ok"] is False and "no commands" in result["error"]  # the simulated box's own answer
            finally:
                desk.stop(5.0)

            # an event published while the hospital is down arrives when it is up again
            with spawned([MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", str(hport), "--cafile", str(certs["ca"]), "-c",
                          "-i", "desk-events", "-q", "1", "-t", f"agma/{BOX}/events"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as sub:
                events = Lines(sub.stdout)
                probe, _ = _client(lport, None, "probe")
                try:
                    # the desk's persistent subscription is in place once a first event reaches it
                    n = 0

                    def first_seen():
                        nonlocal n
                        n += 1
                        probe.publish(f"agma/{BOX}/events", json.dumps({"probe": n}), qos=1)
                        return events.wait_for(lambda line: '"probe"' in line, timeout=1.0)

                    wait_until(first_seen, "the desk's subscription at the hospital")
                    hospital.send_signal(signal.SIGTERM)  # saves the desk's session (persistence) and stops
                    hospital.wait(timeout=DEADLINE_S)
                    acked = probe.publish(f"agma/{BOX}/events", json.dumps({"event_id": 4242, "kind": "camera_lost"}),
                                          qos=1)
                    assert acked is not None  # the local broker took it while the hospital is away
                    with mosquitto(hconf, hport, tmp_path / "hospital.log"):
                        assert events.wait_for(lambda line: '"event_id": 4242' in line), \
                            f"the event sent during the outage never reached the hospital:\n{events.text()}"
                        # the box's clean shutdown shows at the hospital
                        sink.stop(5.0)
                        wait_until(lambda: _ward(hport, certs).get(BOX, {}).get("offline"), "offline at the hospital")
                finally:
                    probe.stop(5.0)
        finally:
            sink.stop(5.0)
