"""systemd/agma.sysusers, applied by the real systemd-sysusers to an empty root: the service's user.

Why: the unit runs as `agma` and opens the GPU's nodes (group video) and the GPIO chips (group
gpio, given to it by 60-agma.rules); a user without those groups passes every offline check and
fails on the box with "permission denied". The user has no login shell, and its home is the state
directory (the unit's ProtectHome= hides /home). Applying it twice changes nothing.
"""
from __future__ import annotations

import shutil

from tests.deploy.tools import systemd_tool, unit_settings, UNIT
from tests.helpers import REPO, run


def _apply(root):
    conf = root / "etc" / "sysusers.d" / "agma.conf"
    proc = run([systemd_tool("systemd-sysusers"), f"--root={root}", str(conf)], timeout=60)
    assert proc.returncode == 0, proc.stderr


def _snapshot(root):
    return {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted((root / "etc").iterdir()) if p.is_file()}


def test_the_user_its_home_and_groups(tmp_path):
    root = tmp_path / "root"
    (root / "etc" / "sysusers.d").mkdir(parents=True)
    shutil.copy(REPO / "systemd" / "agma.sysusers", root / "etc" / "sysusers.d" / "agma.conf")
    _apply(root)
    users = {f[0]: f for f in (line.split(":") for line in (root / "etc" / "passwd").read_text().splitlines())}
    groups = {f[0]: f for f in (line.split(":") for line in (root / "etc" / "group").read_text().splitlines())}
    name, _, uid, gid, _, home, shell = users["agma"]
    assert int(uid) < 1000 and groups["agma"][2] == gid  # a system user with its own group
    state = unit_settings(UNIT.read_text(encoding="utf-8"))["StateDirectory"][0]
    assert home == f"/var/lib/{state}" and shell == "/usr/sbin/nologin"
    assert "agma" in groups["video"][3].split(",") and "agma" in groups["gpio"][3].split(",")
    before = _snapshot(root)
    _apply(root)
    assert _snapshot(root) == before


def test_the_udev_rule_gives_gpio_chips_to_the_users_group():
    rules = (REPO / "systemd" / "60-agma.rules").read_text(encoding="utf-8")
    gpio = next(line for line in rules.splitlines() if 'KERNEL=="gpiochip*"' in line)
    assert 'GROUP="gpio"' in gpio and 'MODE="0660"' in gpio
    assert "m agma gpio" in (REPO / "systemd" / "agma.sysusers").read_text(encoding="utf-8")
