"""docs/mosquitto/README.md's commands, run as written, give a broker that does what the page says.

Why: people copy an example configuration because they trust it. One that does not start on
Debian (a second persistence_location next to the packaged mosquitto.conf's), or whose password
file or key the broker cannot read once it has dropped to the `mosquitto` user, fails in the
hospital, not here. So the page's marked shell blocks run in order with bash, changed only where a
test must: /etc/mosquitto and /etc/agma under a temporary folder, broker.nicu.example -> localhost,
the installed agma.conf's two listeners on free loopback ports, and `systemctl restart` / `reload`
replaced by starting Mosquitto with Debian's packaged main configuration (which include_dir's the
installed file) / sending it SIGHUP. Run as root, Mosquitto drops to the `mosquitto` user exactly
as the packaged service does (no `user root`), so the page's chown/chmod are what make it work.

Then, as the page says: the box configured by the page's TOML (read by appliance.config, used by
Link) connects over TLS and its status reaches the monitor; an anonymous client is refused; the
box and the monitor the page adds later log in after the reload; the new monitor's command reaches
the box; the page's `agma ward` command (with --json) lists the box.
"""
from __future__ import annotations

import grp
import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys

import pytest

from appliance import config
from appliance.status.mqtt import Incoming, Link, LinkEvent, Security
from tests.helpers import REPO, clean_env, last_json, run, spawned, wait_until
from tests.runtime.mqtt_daemon import MOSQUITTO, free_port, listening

README = REPO / "docs" / "mosquitto" / "README.md"
#: Debian 12's packaged /etc/mosquitto/mosquitto.conf, its folders moved under {root} (pid and log
#: file left out: the test keeps Mosquitto's output).
DEBIAN_MAIN_CONF = """persistence true
persistence_location {root}/var/lib/mosquitto/
include_dir {root}/etc/mosquitto/conf.d
"""
DROPS_PRIVILEGES = os.geteuid() == 0


def _blocks() -> dict[str, tuple[str, str]]:
    """name -> (language, text) of every block the page marks with <!-- run:NAME -->."""
    text = README.read_text(encoding="utf-8")
    found = re.findall(r"<!-- run:([\w-]+) -->\n```(\w+)\n(.*?)```", text, flags=re.S)
    return {name: (lang, body) for name, lang, body in found}


class Page:
    """The page's blocks with the test's folder, host and (non-root) owner in place of the real ones."""

    def __init__(self, root) -> None:
        self.root = root
        self.blocks = _blocks()
        assert {"install", "trial-certs", "permissions", "add-box", "add-monitor", "box-password", "box-config",
                "desk"} <= set(self.blocks), f"README.md's run blocks: {sorted(self.blocks)}"

    def text(self, name: str) -> str:
        body = self.blocks[name][1]
        for old, new in (("/etc/mosquitto", f"{self.root}/etc/mosquitto"), ("/etc/agma", f"{self.root}/etc/agma"),
                         ("broker.nicu.example", "localhost")):
            body = body.replace(old, new)
        if not DROPS_PRIVILEGES:  # only root may give a file to the mosquitto group; as ourselves, ours
            body = body.replace("chown root:mosquitto", f"chown {os.getuid()}:{os.getgid()}")
        return body

    def shell(self, name: str, *, systemctl: str | None = None, **subst: str) -> str:
        """Run block ``name`` with bash (-e: any failing command fails the test), without its systemctl line."""
        assert self.blocks[name][0] == "sh", name
        lines = self.text(name).splitlines()
        kept = [line for line in lines if not line.startswith("systemctl ")]
        assert [line for line in lines if line.startswith("systemctl ")] == ([f"systemctl {systemctl} mosquitto"]
                                                                          if systemctl else []), (name, lines)
        script = "\n".join(kept) + "\n"
        for old, new in subst.items():
            assert old in script, (name, old)
            script = script.replace(old, new)
        proc = run(["bash", "-euo", "pipefail", "-c", script], env=clean_env())
        assert proc.returncode == 0, f"README block {name} failed ({proc.returncode}):\n{script}\n{proc.stderr}"
        return proc.stdout

    def passwords(self) -> dict[str, str]:
        """account -> password, as the page's mosquitto_passwd lines set them."""
        text = "".join(body for _, body in self.blocks.values())
        return dict(re.findall(r"mosquitto_passwd (?:-c )?-b \S+ (\S+) '([^']*)'", text))


def _uid(pid: int) -> int:
    """The real uid of a running process (/proc/PID/status)."""
    for line in open(f"/proc/{pid}/status", encoding="ascii"):
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


class Client:
    """A Link and what it has put on its inbox."""

    def __init__(self, name: str, port: int, security: Security, subscriptions=(), host: str = "127.0.0.1") -> None:
        self.queue: queue.Queue = queue.Queue()
        self.seen: list = []
        self.link = Link(name, host, port, f"readme-{name}", security, 30, self.queue, subscriptions=tuple(subscriptions))
        self.link.start()

    def items(self) -> list:
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                return self.seen

    def has(self, kind: str) -> bool:
        return any(isinstance(e, LinkEvent) and e.kind == kind for e in self.items())

    def got(self, topic: str, payload: bytes) -> bool:
        return any(isinstance(m, Incoming) and m.topic == topic and m.payload == payload for m in self.items())

    def connected(self) -> None:
        wait_until(lambda: self.has("connected") and self.link.connected, f"{self.link.name} connected")


@pytest.fixture
def root(sock_dir):
    """The stand-in for /: mode 0755 all the way (the mosquitto user must reach the files), with what the
    Debian package makes: /etc/mosquitto/conf.d and /var/lib/mosquitto owned by mosquitto."""
    assert MOSQUITTO is not None and shutil.which("mosquitto_passwd") and shutil.which("openssl"), (
        "needs Debian's mosquitto and openssl: scripts/test.sh installs them as root, else: "
        "sudo apt-get install -y mosquitto openssl")
    (sock_dir / "etc/mosquitto/conf.d").mkdir(parents=True)
    db = sock_dir / "var/lib/mosquitto"
    db.mkdir(parents=True)
    if DROPS_PRIVILEGES:
        os.chown(db, pwd.getpwnam("mosquitto").pw_uid, grp.getgrnam("mosquitto").gr_gid)
    return sock_dir


def test_the_readme_commands_make_a_working_broker(root):
    page = Page(root)
    passwords = page.passwords()
    assert {"nicu-03", "monitor", "nicu-04", "desk-2"} <= set(passwords), passwords

    page.shell("install")
    assert (root / "etc/mosquitto/agma/acl").read_text() == (REPO / "docs/mosquitto/acl").read_text()
    page.shell("trial-certs")
    page.shell("permissions", systemctl="restart")
    for name in ("passwords", "server.key"):  # the broker's secrets: nobody else may read them
        assert (root / "etc/mosquitto/agma" / name).stat().st_mode & 0o777 == 0o640, name

    # the installed agma.conf, its listeners moved to free loopback ports (what only the test must change)
    tls_port, plain_port = free_port(), free_port()
    conf = root / "etc/mosquitto/conf.d/agma.conf"
    text = conf.read_text()
    for old, new in (("\nlistener 8883\n", f"\nlistener {tls_port} 127.0.0.1\n"),
                     ("\nlistener 1883 127.0.0.1\n", f"\nlistener {plain_port} 127.0.0.1\n"),
                     ("/etc/mosquitto/agma/", f"{root}/etc/mosquitto/agma/")):
        assert old in text, f"agma.conf no longer has {old!r}: update this test with it"
        text = text.replace(old, new)
    conf.write_text(text)
    main = root / "etc/mosquitto/mosquitto.conf"
    main.write_text(DEBIAN_MAIN_CONF.format(root=root))

    # the box's side: its password file and configuration, as the page gives them
    page.shell("box-password")
    assert (root / "etc/agma/mqtt-password").stat().st_mode & 0o777 == 0o600
    shutil.copy(root / "etc/mosquitto/agma/ca.pem", root / "etc/agma/broker-ca.pem")
    toml = page.text("box-config")
    assert "port = 8883\n" in toml
    (root / "etc/agma/agma.toml").write_text(toml.replace("port = 8883\n", f"port = {tls_port}\n"))
    cfg = config.load(str(root / "etc/agma/agma.toml"), environ={})
    box_id = cfg["box.id"]
    assert cfg["mqtt.enabled"] and cfg["mqtt.username"] == box_id == "nicu-03"

    def login(user: str, **kw) -> Security:
        pw = root / f"{user}.password"
        pw.write_text(passwords[user] + "\n")
        return Security(username=user, password_file=str(pw), **kw)

    log_path = root / "mosquitto.log"
    clients: list[Client] = []
    with open(log_path, "ab") as log, spawned([MOSQUITTO, "-c", str(main)], stdout=log,
                                              stderr=subprocess.STDOUT) as broker:
        try:
            wait_until(lambda: listening(tls_port) and listening(plain_port), "mosquitto listening", proc=broker)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_path.read_text(errors='replace')}") from None
        if DROPS_PRIVILEGES:  # as the packaged service: the files are read as the mosquitto user
            assert _uid(broker.pid) == pwd.getpwnam("mosquitto").pw_uid
        try:
            monitor = Client("monitor", plain_port, login("monitor"), ["agma/#"])
            box = Client("box", cfg["mqtt.port"], Security.from_config(cfg), [f"agma/{box_id}/cmd"],
                         host=cfg["mqtt.host"])
            anonymous = Client("anonymous", plain_port, Security())
            clients += [monitor, box, anonymous]
            monitor.connected()
            box.connected()  # over TLS, with the page's configuration
            assert box.link.publish(f"agma/{box_id}/availability", b"online", qos=1, retain=True) is not None
            wait_until(lambda: monitor.got(f"agma/{box_id}/availability", b"online"), "the box's message at the monitor")
            wait_until(lambda: anonymous.has("refused"), "the anonymous client refused")

            # add a box, add a monitor (systemctl reload = SIGHUP)
            page.shell("add-box", systemctl="reload")
            broker.send_signal(signal.SIGHUP)
            box4 = Client("nicu-04", tls_port, login("nicu-04", tls_ca=str(root / "etc/agma/broker-ca.pem")),
                          host="localhost")
            clients.append(box4)
            box4.connected()
            assert box4.link.publish("agma/nicu-04/status", b'{"new":"box"}', qos=1) is not None
            wait_until(lambda: monitor.got("agma/nicu-04/status", b'{"new":"box"}'), "the new box's status")

            page.shell("add-monitor", systemctl="reload")
            broker.send_signal(signal.SIGHUP)
            desk2 = Client("desk-2", tls_port, login("desk-2", tls_ca=str(root / "etc/agma/broker-ca.pem")),
                           host="localhost")
            clients.append(desk2)
            desk2.connected()
            assert desk2.link.publish(f"agma/{box_id}/cmd", b'{"action":"status","request_id":"desk-2"}', qos=1)
            wait_until(lambda: box.got(f"agma/{box_id}/cmd", b'{"action":"status","request_id":"desk-2"}'),
                       "the new monitor's command at the box")

            # the desk's command as the page gives it, once (--json) instead of the live table
            out = page.shell("desk", **{"\nagma ward ": f"\n{sys.executable} -m appliance ward ",
                                        "localhost:8883 ": f"localhost:{tls_port} ", "--tls-ca ": "--json --tls-ca "})
            rows = last_json(subprocess.CompletedProcess([], 0, out, ""))
            assert [r["availability"] for r in rows if r["box"] == box_id] == ["online"], rows
        finally:
            for c in clients:
                c.link.stop(5.0)
    log_text = log_path.read_text(errors="replace")
    assert "Error" not in log_text, log_text
