"""`agma bench` finds every bench in appliance/bench/ and keeps its names; with none it runs `stages`.

What a user types and reads must not move: the same names (and `ring`, the shared-memory crossing,
`fleet`, a ward on one broker, `soak`, an hour of frames, `preprocess`, CPU against GPU with
`--check`, and `stages`, every stage side by side,
added since), the same rows and the same one-line refusal of an unknown name. With no name only
the stage table runs (issue 17): each per-stage bench, and `daemon`, `camera`, `fleet` and `soak`
(which start processes or take minutes), run when named.
"""
from __future__ import annotations

from appliance import bench
from tests.helpers import agma, last_json

NAMES = {"triangulate", "store", "decode", "decode-cuda", "engine", "daemon", "ring", "camera", "fleet", "soak", "preprocess",
         "stages"}


def test_every_bench_module_registers_its_name():
    assert set(bench.load()) == NAMES
    assert bench.default_names() == ["stages"]
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
