"""The example ACL (docs/mosquitto/acl) enforced by a real Mosquitto with a password file.

Why: a box account must write only its own topics and read only its own commands, and only a
monitor may command a box; anonymous clients are refused. The very file the docs give is used
unchanged, with accounts made by mosquitto_passwd. Order per client is kept by MQTT, so a
message published *before* one that arrives would have arrived first had the broker let it through.
"""
from __future__ import annotations

import json
import queue
import shutil
import subprocess

from appliance.status.mqtt import Incoming, Link, LinkEvent, Security
from tests.helpers import DEADLINE_S, REPO, wait_until
from tests.runtime.mqtt_daemon import Broker

ACL = REPO / "docs" / "mosquitto" / "acl"
PASSWORDS = {"box-a": "pw-a", "box-b": "pw-b", "monitor": "pw-m"}


def _link(broker: Broker, tmp_path, user: str | None, subscriptions=()) -> tuple[Link, queue.Queue]:
    inbox: queue.Queue = queue.Queue()
    sec = Security()
    if user:
        pw = tmp_path / f"{user}.pw"
        pw.write_text(PASSWORDS[user] + "\n")
        sec = Security(username=user, password_file=str(pw))
    link = Link(f"acl-{user}", "127.0.0.1", broker.port, f"acl-{user}", sec, 30, inbox, subscriptions=tuple(subscriptions))
    link.start()
    return link, inbox


def _events(inbox: queue.Queue, seen: list) -> list:
    while True:
        try:
            seen.append(inbox.get_nowait())
        except queue.Empty:
            return seen


def _messages(seen: list) -> list[tuple[str, bytes]]:
    return [(m.topic, m.payload) for m in seen if isinstance(m, Incoming)]


def _connected(link: Link, inbox: queue.Queue, seen: list) -> None:
    wait_until(lambda: any(isinstance(e, LinkEvent) and e.kind == "connected" for e in _events(inbox, seen)),
               f"{link.name} connected")
    wait_until(lambda: link.connected, f"{link.name} subscribed")


def test_the_example_acl(tmp_path):
    passwd = tmp_path / "passwords"
    for i, (user, pw) in enumerate(PASSWORDS.items()):
        subprocess.run([shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd", *(["-c"] if i == 0 else []),
                        "-b", str(passwd), user, pw], check=True, timeout=DEADLINE_S)
    acl = tmp_path / "acl"
    acl.write_text(ACL.read_text())  # unchanged
    with Broker(tmp_path, f"password_file {passwd}\nacl_file {acl}\n", anonymous=False) as broker:
        links = []
        try:
            monitor, m_in = _link(broker, tmp_path, "monitor", ["agma/#"])
            box_a, a_in = _link(broker, tmp_path, "box-a", ["agma/box-a/cmd", "agma/box-b/cmd"])
            box_b, b_in = _link(broker, tmp_path, "box-b")
            anon, anon_in = _link(broker, tmp_path, None)
            links = [monitor, box_a, box_b, anon]
            m_seen, a_seen, b_seen, anon_seen = [], [], [], []
            for link, inbox, seen in ((monitor, m_in, m_seen), (box_a, a_in, a_seen), (box_b, b_in, b_seen)):
                _connected(link, inbox, seen)

            # a box writes only its own topics
            assert box_a.publish("agma/box-b/status", b'{"forged":true}', qos=1) is not None
            assert box_a.publish("agma/box-a/status", b'{"own":true}', qos=1) is not None
            wait_until(lambda: ("agma/box-a/status", b'{"own":true}') in _messages(_events(m_in, m_seen)),
                       "box-a's own status at the monitor")
            assert ("agma/box-b/status", b'{"forged":true}') not in _messages(m_seen)

            # only a monitor commands: box-b's command never reaches box-a, the monitor's does
            assert box_b.publish("agma/box-a/cmd", json.dumps({"action": "start", "request_id": "forged"}), qos=1)
            assert monitor.publish("agma/box-a/cmd", json.dumps({"action": "status", "request_id": "desk"}), qos=1)
            assert monitor.publish("agma/box-b/cmd", json.dumps({"action": "status", "request_id": "not-yours"}), qos=1)
            wait_until(lambda: any(b'"desk"' in p for t, p in _messages(_events(a_in, a_seen))), "the monitor's command")
            got = _messages(a_seen)
            assert not any(b"forged" in p for t, p in got), got
            assert not any(t == "agma/box-b/cmd" for t, p in got), "box-a read another box's commands"

            # anonymous: refused
            wait_until(lambda: any(isinstance(e, LinkEvent) and e.kind in ("refused", "disconnected")
                                   for e in _events(anon_in, anon_seen)), "the anonymous client refused")
            assert not anon.connected
        finally:
            for link in links:
                link.stop(5.0)
