"""`agma bench` finds every bench in appliance/bench/ and keeps its names: `daemon` runs only when named.

The benches moved out of the stages into one package; what a user types and reads must not move
with them: the same names (and `ring`, the shared-memory crossing, and `fleet`, a ward on one broker, added since), the same default set (all but `daemon` and `camera`, which start a daemon, and `fleet`, which starts a broker),
the same rows and the same one-line refusal of an unknown name.
"""
from __future__ import annotations

from appliance import bench
from tests.helpers import agma, last_json

NAMES = {"triangulate", "store", "decode", "decode-cuda", "engine", "daemon", "ring", "camera", "fleet"}


def test_every_bench_module_registers_its_name():
    assert set(bench.load()) == NAMES
    assert bench.default_names() == sorted(NAMES - {"daemon", "camera", "fleet"})
    assert all(m.startswith("appliance.bench.") for m in bench.MODULES)


def test_a_named_bench_runs_through_the_command():
    proc = agma("bench", "triangulate", "--repeat", "3", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = last_json(proc)
    assert list(doc["benches"]) == ["triangulate"]
    (row,) = doc["benches"]["triangulate"]
    assert row["name"] == "triangulate+validity (17 joints)" and row["median_us"] > 0


def test_an_unknown_name_is_a_usage_error_naming_the_known_ones():
    proc = agma("bench", "nosuch")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "agma bench: unknown bench nosuch; known: " + ", ".join(sorted(NAMES)))
