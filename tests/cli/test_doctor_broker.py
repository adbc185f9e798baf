"""`agma doctor`'s broker check: one real connection to a real Mosquitto with the configured login and TLS.

Why: "reachable with the credentials, TLS valid" is only known by connecting. Against Debian's
Mosquitto on loopback (tests/mqtt_broker.py: a password file, a TLS listener whose certificate a
trustme CA signed) the check passes with the box's account over TLS, saying until when the
broker's certificate is valid, and fails, each with its own fix, when the CA is not the one that
signed the broker's certificate, when the password is wrong, when a password file cannot be read,
and when the TLS port is spoken to without TLS. Nothing is published: the desk, subscribed to
everything, receives no message from doctor.
"""
from __future__ import annotations

import pytest

from tests.cli.doctor_setup import DoctorBox, assert_failed, assert_others_pass
from tests.helpers import wait_until
from tests.mqtt_broker import secure_broker, wrong_ca
from tests.runtime.mqtt_daemon import Watcher

PASSWORDS = {"box-1": "pw-box", "desk": "pw-desk"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with secure_broker(tmp_path_factory.mktemp("broker"), passwords=PASSWORDS, tls=True) as b:
        yield b


def _box(tmp_path, broker, *, password="pw-box", ca=None, port=None) -> DoctorBox:
    box = DoctorBox(tmp_path)
    pw = tmp_path / "mqtt-password"
    pw.write_text(password + "\n")
    box.set(mqtt={"enabled": True, "host": "127.0.0.1", "port": port or broker.tls_port, "username": "box-1",
                  "password_file": str(pw), "tls_ca": str(ca or broker.tls.ca_pem_path)})
    return box


def test_with_the_account_and_the_brokers_ca_it_passes_and_publishes_nothing(tmp_path, broker):
    desk = Watcher(broker.port, topics=("#",))
    desk.client.username_pw_set("desk", "pw-desk")  # the broker refuses anonymous clients: the retry logs in
    try:
        def marker(n: int) -> None:  # the desk's own message back: its subscription is live up to here
            desk.publish(f"markers/{n}", b"m")
            wait_until(lambda: any(m[0] == f"markers/{n}" for m in desk.messages), f"marker {n} back at the desk")

        marker(1)
        box = _box(tmp_path, broker)
        _, checks = box.doctor()
        marker(2)
        c = checks["broker"]
        assert c["ok"] is True, c
        assert c["detail"].startswith(f"connected to 127.0.0.1:{broker.tls_port} (TLS) as 'box-1'; its certificate is "
                                      "valid until "), c
        assert_others_pass(checks)
        assert [m[0] for m in desk.messages] == ["markers/1", "markers/2"]
    finally:
        desk.client.loop_stop()
        desk.client.disconnect()


def test_a_ca_that_did_not_sign_the_brokers_certificate_fails(tmp_path, broker):
    _, checks = _box(tmp_path, broker, ca=wrong_ca(tmp_path)).doctor()
    assert_failed(checks["broker"], detail=f"127.0.0.1:{broker.tls_port} (TLS): the broker's certificate is refused: ",
                  fix="mqtt.tls_ca the CA that signed its certificate")


def test_a_wrong_password_fails(tmp_path, broker):
    _, checks = _box(tmp_path, broker, password="not-it").doctor()
    assert_failed(checks["broker"], detail=f"127.0.0.1:{broker.tls_port} (TLS) refused the login of 'box-1': ",
                  fix="check mqtt.username and the password in mqtt.password_file")


def test_a_missing_password_file_fails_before_connecting(tmp_path, broker):
    box = _box(tmp_path, broker)
    (tmp_path / "mqtt-password").unlink()
    _, checks = box.doctor()
    assert_failed(checks["broker"], detail=f"mqtt password file {tmp_path / 'mqtt-password'}: cannot read it",
                  fix="correct the mqtt file named")


def test_the_plain_port_answered_with_tls_fails(tmp_path, broker):
    _, checks = _box(tmp_path, broker, port=broker.port).doctor()
    assert_failed(checks["broker"], detail=f"127.0.0.1:{broker.port} (TLS): TLS handshake failed",
                  fix="mqtt.port must be the broker's TLS listener")
