"""Compact storage: an hour of 30 FPS recording fits half the 250 MB budget, as `agma bench store` measures it.

The measurement is the bench's own (the real recording path: synthetic scene, simulated heatmap
model with real scores and the default noise, default validity rules, no ground truth; the
checkpointed file's growth per frame), on fewer frames than the bench's default. A size, not a
timing: it does not depend on the machine.
"""
from __future__ import annotations

from types import SimpleNamespace

from appliance.store import diskguard
from appliance.bench.store import HOUR_FRAMES_30FPS, bench_store

BUDGET_MB_PER_HOUR = 250.0  # the limit, without ground_truth


def test_an_hour_fits_half_the_budget():
    rows = bench_store(SimpleNamespace(repeat=1, config=None))
    (camera,) = [r for r in rows if r["name"].startswith("store ingest") and "without ground truth" in r["name"]]
    (sim,) = [r for r in rows if r["name"].startswith("store ingest") and "with ground truth" in r["name"]]
    assert camera["mb_per_hour_30fps"] == camera["bytes_per_frame"] * HOUR_FRAMES_30FPS / 1e6
    assert camera["mb_per_hour_30fps"] <= BUDGET_MB_PER_HOUR / 2, camera
    assert camera["bytes_per_frame"] < sim["bytes_per_frame"] <= diskguard.BYTES_PER_FRAME
