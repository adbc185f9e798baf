"""The daemon over TLS: it connects with the broker's CA, and with a wrong CA it refuses, says so in
one line, and keeps recording.

Why: a hospital broker is reached over TLS; a box must verify whom it talks to (a wrong or
expired certificate is refused, never ignored) and a refused broker must not stop the recording
nor flood the log. Certificates from trustme (a CA and a server certificate for 127.0.0.1), a
real Mosquitto TLS listener, the real daemon.
"""
from __future__ import annotations

import time

import trustme

from tests.helpers import wait_until
from tests.runtime.daemon_env import ctl, daemon_env, running_daemon, status, stop_daemon
from tests.runtime.mqtt_daemon import Broker, mqtt_env


def _tls_broker(tmp_path) -> tuple[Broker, str]:
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, cert_file, key_file = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    server.private_key_pem.write_to_path(str(key_file))
    for i, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(cert_file), append=i > 0)
    broker = Broker(tmp_path)
    # the plain listener of Broker stays (it is how the test sees the broker is up); the box uses TLS
    tls_port = broker.port + 1 if broker.port < 65535 else broker.port - 1
    broker.conf.write_text(broker.conf.read_text() + f"listener {tls_port} 127.0.0.1\ncafile {ca_file}\n"
                           f"certfile {cert_file}\nkeyfile {key_file}\n")
    broker.tls_port = tls_port
    return broker, str(ca_file)


def test_tls_with_the_right_ca_connects(tmp_path):
    broker, ca_file = _tls_broker(tmp_path)
    with broker:
        env = daemon_env(tmp_path, **mqtt_env(broker.tls_port, AGMA_MQTT__TLS_CA=ca_file))
        with running_daemon(env) as proc:
            wait_until(lambda: status(env).get("mqtt") == "connected", "connected over TLS", proc=proc)
            assert stop_daemon(proc) == 0


def test_a_wrong_ca_is_refused_in_one_line_and_recording_goes_on(tmp_path):
    broker, _ = _tls_broker(tmp_path)
    wrong = tmp_path / "wrong-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(wrong))
    with broker:
        env = daemon_env(tmp_path, **mqtt_env(broker.tls_port, AGMA_MQTT__TLS_CA=str(wrong)))
        with running_daemon(env) as proc:
            code, answer = ctl(env, "start")
            assert code == 0 and answer["ok"], answer
            wait_until(lambda: status(env)["frames"] > 30, "frames stored", proc=proc)
            time.sleep(3.0)  # several reconnect attempts: still one line
            st = status(env)
            assert st["state"] == "recording" and st["mqtt"] == "connecting"
            assert ctl(env, "stop")[1]["ok"]
            assert stop_daemon(proc) == 0
            log = proc.log.text()
        refusals = [line for line in log.splitlines() if "mqtt" in line and "CERTIFICATE_VERIFY_FAILED" in line]
        assert len(refusals) == 1, log
        assert "Traceback" not in log, log
