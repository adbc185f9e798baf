"""appliance.status.mqtt.Link against a real Mosquitto with TLS and a password file.

Why: Link is the box's and the desk's one connection; what it puts on its inbox is all its owner
learns about the broker. With the broker's CA and the right password it connects (LinkEvent
"connected") and what it publishes arrives; with a CA that did not sign the broker's certificate
it never connects and says why in one line naming the certificate (a "failed" event, no
traceback), again on each retry; with a wrong password the broker's refusal arrives as "refused".
Certificates from trustme, accounts from mosquitto_passwd (tests/mqtt_broker.py).
"""
from __future__ import annotations

import queue

import pytest

from appliance.status.mqtt import Incoming, Link, LinkEvent, Security
from tests.helpers import wait_until
from tests.mqtt_broker import secure_broker, wrong_ca

PASSWORDS = {"box-a": "pw-a", "desk": "pw-d"}


class Inbox:
    """A Link's inbox, drained into ``seen`` whenever it is looked at."""

    def __init__(self) -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list = []

    def items(self) -> list:
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                return self.seen

    def events(self, kind: str) -> list[LinkEvent]:
        return [e for e in self.items() if isinstance(e, LinkEvent) and e.kind == kind]


@pytest.fixture
def links():
    started: list[Link] = []
    yield started
    for link in started:
        link.stop(5.0)


def _link(links, tmp_path, broker, name: str, *, user: str, password: str, port: int, ca=None,
          subscriptions=()) -> tuple[Link, Inbox]:
    pw = tmp_path / f"{name}.password"
    pw.write_text(password + "\n")
    inbox = Inbox()
    link = Link(name, "127.0.0.1", port, f"tls-test-{name}",
                Security(username=user, password_file=str(pw), tls_ca=str(ca) if ca else ""), 30, inbox.queue,
                subscriptions=tuple(subscriptions))
    link.start()
    links.append(link)
    return link, inbox


def test_with_the_brokers_ca_it_connects_and_publishes(tmp_path, links):
    with secure_broker(tmp_path, passwords=PASSWORDS, tls=True) as broker:
        desk, desk_in = _link(links, tmp_path, broker, "desk", user="desk", password="pw-d", port=broker.port,
                              subscriptions=("agma/#",))
        box, box_in = _link(links, tmp_path, broker, "box", user="box-a", password="pw-a", port=broker.tls_port,
                            ca=broker.tls.ca_pem_path)
        wait_until(lambda: desk_in.events("connected") and desk.connected, "the desk connected")
        wait_until(lambda: box_in.events("connected") and box.connected, "the box connected over TLS")
        assert box.publish("agma/box-a/status", b'{"over":"tls"}', qos=1) is not None
        wait_until(lambda: any(isinstance(m, Incoming) and m.topic == "agma/box-a/status" and m.payload == b'{"over":"tls"}'
                               for m in desk_in.items()), "the box's message at the desk")
        wait_until(lambda: box_in.events("acked"), "the broker's PUBACK")
        assert not box_in.events("failed") and not box_in.events("refused"), box_in.seen


def test_a_wrong_ca_never_connects_and_says_so_in_one_line(tmp_path, links):
    with secure_broker(tmp_path, passwords=PASSWORDS, tls=True) as broker:
        box, box_in = _link(links, tmp_path, broker, "box", user="box-a", password="pw-a", port=broker.tls_port,
                            ca=wrong_ca(tmp_path))
        wait_until(lambda: len(box_in.events("failed")) >= 2, "two refused attempts (it retries)")
        failed = box_in.events("failed")
        for event in failed:
            assert "certificate" in event.detail.lower(), event
            assert "\n" not in event.detail and "Traceback" not in event.detail, event
            assert f"127.0.0.1:{broker.tls_port}" in event.detail, event
        assert not box_in.events("connected") and not box.connected, box_in.seen


def test_a_wrong_password_is_refused(tmp_path, links):
    with secure_broker(tmp_path, passwords=PASSWORDS, tls=True) as broker:
        box, box_in = _link(links, tmp_path, broker, "box", user="box-a", password="not-pw-a", port=broker.tls_port,
                            ca=broker.tls.ca_pem_path)
        wait_until(lambda: box_in.events("refused"), "the broker's refusal")
        refused = box_in.events("refused")[0]
        assert "refused" in refused.detail and "\n" not in refused.detail, refused
        assert not box_in.events("connected") and not box.connected, box_in.seen
        assert box.publish("agma/box-a/status", b"x") is None and box.dropped == 1
