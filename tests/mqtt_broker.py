"""A test Mosquitto with accounts and TLS: trustme certificates, a password file, an ACL, a TLS listener.

Built on tests/runtime/mqtt_daemon.py's ``Broker`` (Debian's mosquitto on a free loopback port,
started through tests/helpers.spawned, restartable on the same port, ``user root`` when run as
root, persistence off). ``secure_broker`` adds what a hospital broker has: a password file made by
``mosquitto_passwd -b``, an ACL file, and a TLS listener on a second free port with a server
certificate for 127.0.0.1 and localhost signed by a trustme CA. The plain listener stays (it is how
``Broker.start`` sees the broker is up); with a password file it needs a login too.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.helpers import DEADLINE_S
from tests.runtime.mqtt_daemon import INSTALL, Broker, free_port

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or (
    "/usr/bin/mosquitto_passwd" if os.access("/usr/bin/mosquitto_passwd", os.X_OK) else None)


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of a trustme CA and of the server certificate it signed (for 127.0.0.1 and localhost)."""

    ca_pem_path: Path
    cert_path: Path
    key_path: Path


def make_tls_files(folder: Path) -> TlsFiles:
    """A fresh CA and a server certificate (chain, then key) written into ``folder``."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca.cert_pem.write_to_path(str(files.ca_pem_path))
    for i, blob in enumerate(server.cert_chain_pems):
        blob.write_to_path(str(files.cert_path), append=i > 0)
    server.private_key_pem.write_to_path(str(files.key_path))
    return files


def wrong_ca(folder: Path, name: str = "wrong-ca.pem") -> Path:
    """A CA certificate that signed nothing the broker has: a client trusting only it must refuse the broker."""
    path = folder / name
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def make_password_file(path: Path, passwords: dict[str, str]) -> Path:
    """A Mosquitto password file holding ``passwords`` (account -> password), made by mosquitto_passwd -b."""
    assert MOSQUITTO_PASSWD is not None, INSTALL
    path.unlink(missing_ok=True)
    for i, (user, password) in enumerate(passwords.items()):
        subprocess.run([MOSQUITTO_PASSWD, *(["-c"] if i == 0 else []), "-b", str(path), user, password],
                       check=True, timeout=DEADLINE_S, stdout=subprocess.DEVNULL)
    return path


def secure_broker(folder: Path, *, passwords: dict[str, str] | None = None, acl_file: Path | None = None,
                  tls: bool = False) -> Broker:
    """A Broker (not started: ``with secure_broker(...) as b``) with accounts, an ACL and/or TLS.

    passwords given: anonymous clients are refused. tls: ``b.tls_port`` is the TLS listener and
    ``b.tls`` its TlsFiles (``b.tls.ca_pem_path`` is what a client trusts); else b.tls_port is None.
    """
    folder = Path(folder)
    extra = ""
    if passwords:
        extra += f"password_file {make_password_file(folder / 'passwords', passwords)}\n"
    if acl_file is not None:
        extra += f"acl_file {acl_file}\n"
    files = make_tls_files(folder) if tls else None
    tls_port = free_port() if tls else None
    if files is not None:
        extra += (f"listener {tls_port} 127.0.0.1\ncafile {files.ca_pem_path}\ncertfile {files.cert_path}\n"
                  f"keyfile {files.key_path}\n")
    broker = Broker(folder, extra, anonymous=not passwords)
    broker.tls_port, broker.tls = tls_port, files
    return broker


__all__ = ["TlsFiles", "make_password_file", "make_tls_files", "secure_broker", "wrong_ca"]
