"""`agma bench` with no names: one row per stage, in data-path order, each timed or saying why not.

Why: the frame budget (33.3 ms a pair at 30 FPS) is judged from one table where every stage was
measured side by side in the same run; a row that silently vanished or a share computed against
another budget would mislead the budget on paper (docs/performance.md). The reference-style
preprocessing the preprocess row is compared with must compute the same numbers as ours, or the
ratio compares two different jobs: checked on a rendered frame to float32 rounding (the warp is
the same cv2.warpAffine; only the normalisation's arithmetic differs).
"""
from __future__ import annotations

import importlib
import json

import numpy as np

from appliance import bench
from appliance.bench.stages import BUDGET_US, STAGES, _frame, _guarded, _tensorrt, reference_preprocess
from appliance.pose.preprocess import CropPolicy, Preprocessor

from tests.helpers import agma

importlib.import_module("appliance.bench.stages")


def test_reference_preprocessing_computes_the_same_batch():
    frame = _frame()
    pre = Preprocessor(CropPolicy(roi_xywh=(200.0, 0.0, 880.0, 720.0)))
    crops, _ = pre.crops(frame)
    ours = pre.batch(frame, crops)
    ref = reference_preprocess((frame.left, frame.right), crops)
    assert ours.shape == ref.shape == (2, 3, 384, 288)
    assert float(np.abs(ours - ref).max()) <= 1e-5


def test_default_run_is_the_stage_table(tmp_path):
    bench.load()
    assert bench.default_names() == ["stages"]  # soak, fleet, daemon, camera and the per-stage benches: when named
    p = agma("bench", "--repeat", "10", "--json", timeout=600)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout.strip().splitlines()[-1])
    assert list(doc["benches"]) == ["stages"]
    rows = doc["benches"]["stages"]
    assert tuple(r["name"] for r in rows) == STAGES
    for r in rows:
        if r["median_us"] is None:
            assert r["budget_share"] is None and r["skipped_reason"], r
        else:
            assert r["median_us"] > 0 and abs(r["budget_share"] - r["median_us"] / BUDGET_US) < 1e-3, r
    by = {r["name"]: r for r in rows}
    # these run on any machine with the test environment (Mosquitto included)
    for name in ("ring", "preprocess_cpu", "engine_onnxruntime", "decode_numpy", "triangulate", "store",
                 "mqtt_publish", "pipeline"):
        assert by[name]["median_us"] is not None, by[name]
    assert by["pipeline"]["dropped_frames"] == 0
    assert by["ring"]["ratio_vs_reference"] > 1 and by["decode_numpy"]["ratio_vs_reference"] > 1


def test_an_engine_that_cannot_open_is_a_skipped_row(tmp_path):
    missing = tmp_path / "x.engine"
    rows = bench.registry()["stages"]
    row = _guarded("engine_tensorrt", lambda: _tensorrt(None, str(missing), 10))
    assert row == {"name": "engine_tensorrt", "median_us": None, "budget_share": None,
                   "skipped_reason": f"{missing}: no such TensorRT engine file"}
    assert callable(rows)
