"""`agma bench engine` produces its rows (smoke test; the timings themselves are not judged here).

The rows split a frame pair's cost into inference and everything else, and the sum of the
latter is compared with the 5 ms budget; without --onnx the inference rows say they were skipped.
"""
from __future__ import annotations

import argparse
import importlib

from appliance import bench
from appliance.pose.export.hrnet_onnx import export_checkpoint

importlib.import_module("appliance.bench.engine")  # registers the bench


def test_rows_without_and_with_a_model(fixtures_dir, tmp_path):
    fn = bench.registry()["engine"]
    rows = fn(argparse.Namespace(repeat=8))
    names = [r["name"] for r in rows]
    assert any(n.startswith("preprocess") for n in names) and any(n.startswith("decode") for n in names)
    total = next(r for r in rows if r["name"] == "outside inference, total")
    assert total["median_us"] > 0 and total["budget_ms"] == 5.0 and isinstance(total["within_budget"], bool)
    assert rows[-1].get("skipped") is True

    model = export_checkpoint(fixtures_dir / "hrnet_w4_zip.pth", tmp_path / "w4.onnx").output
    rows = fn(argparse.Namespace(repeat=8, onnx=str(model)))
    inference = [r for r in rows if r["name"].startswith("inference ONNX Runtime")]
    assert len(inference) == 2 and all(r["median_us"] > 0 for r in inference)


def test_an_engine_that_cannot_run_here_is_a_skipped_row_with_its_reason(tmp_path):
    """`--engine` where TensorRT cannot run (this machine; or a missing engine file anywhere) is one
    skipped row carrying the one-line reason, never a crash of the whole bench."""
    fn = bench.registry()["engine"]
    missing = tmp_path / "nope.engine"
    rows = fn(argparse.Namespace(repeat=8, engine=str(missing)))
    [trt] = [r for r in rows if r["name"].startswith("inference TensorRT")]
    assert trt["skipped"] is True and trt["median_us"] is None
    assert trt["skipped_reason"] == f"{missing}: no such TensorRT engine file"
