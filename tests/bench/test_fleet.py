"""`agma bench fleet`: real sinks, one real Mosquitto, one ward — every box is seen and the figures come out.

Run small (3 boxes, a few seconds) as a user runs it: the bench starts its own broker, the box's
real MQTT sink per simulated box and a ward, then `agma ward --json` once; every box must be seen
online and recording by both, the latency rows must hold samples, and the broker must be gone
afterwards (it is killed on every way out). Figures only: no speed is asserted.
"""
from __future__ import annotations

import math
import os
import shutil

import pytest

from tests.helpers import agma, last_json

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None)


@pytest.fixture(autouse=True)
def _needs_mosquitto():
    """Not a skip: scripts/test.sh installs Mosquitto, so its absence is a setup failure to see."""
    assert MOSQUITTO is not None, ("needs Debian's mosquitto: scripts/test.sh installs it as root, "
                                    "else: sudo apt-get install -y mosquitto mosquitto-clients")


def _mosquittos() -> set[int]:
    pids = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if b"mosquitto" in cmd.split(b"\0")[0] and b"agma-bench-fleet-" in cmd:
                pids.add(int(name))
    return pids


def test_a_small_fleet_is_seen_whole():
    before = _mosquittos()
    proc = agma("bench", "fleet", "--boxes", "3", "--seconds", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in last_json(proc)["benches"]["fleet"]}
    assert set(rows) == {"fleet_seen", "status_latency", "broker_cpu"}
    seen = rows["fleet_seen"]
    assert (seen["boxes"], seen["seen_live"], seen["seen_ward_json"]) == (3, 3, 3)
    lat = rows["status_latency"]
    assert lat["samples"] > 0 and math.isfinite(lat["p50_ms"]) and lat["p50_ms"] <= lat["p99_ms"] <= lat["max_ms"]
    assert rows["broker_cpu"]["cpu_percent"] >= 0 and rows["broker_cpu"]["ward_messages_per_s"] > 0
    assert _mosquittos() - before == set(), "the bench left its broker running"


def test_fleet_runs_only_when_named_and_refuses_an_empty_fleet():
    from appliance import bench

    bench.load()
    assert "fleet" not in bench.default_names()
    proc = agma("bench", "fleet", "--boxes", "0")
    assert proc.returncode == 2 and "--boxes" in proc.stderr.strip().splitlines()[-1]
