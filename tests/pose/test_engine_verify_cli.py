"""`agma engine verify` compares numbers, not files (issue 14, item 4), through the real CLI.

The w4 fixture checkpoint is exported to ONNX and verified on ONNX Runtime (CPU) against
- itself and a byte-different copy of the same weights (another producer string, re-serialised
  with onnx): zero difference in every figure, exit 0;
- a copy whose convolution weights are each perturbed by 1e-6 relative: a small NON-zero
  difference (the comparison really sees the candidate's numbers), still exit 0;
- a 30 % perturbation: exit 1 with the failed thresholds named;
- a model with another output shape (16 joints): refused in one line, exit 1;
and, with --frames, a replay folder's recorded frames are added to the seeded random views.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from appliance import cli
from appliance.capture.replay import write_replay
from appliance.pose.export.hrnet_onnx import export_checkpoint
from tests.capture import replay_frames
from tests.pose.test_onnx_engine_contract import tiny_model

KEYS = ("heatmap_max_abs", "heatmap_max_rel", "kp_px_p50", "kp_px_p95", "kp_px_max",
        "kp_px_p50_confident", "kp_px_p95_confident", "kp_px_max_confident", "ok")


@pytest.fixture(scope="module")
def w4(fixtures_dir, tmp_path_factory):
    return export_checkpoint(fixtures_dir / "hrnet_w4_zip.pth", tmp_path_factory.mktemp("v") / "w4.onnx").output


def _perturbed(src, dst, rel: float):
    """Every Conv weight and bias w -> w * (1 + rel * N(0, 1)), seeded; the rest of the graph unchanged."""
    model = onnx.load(str(src))
    conv_params = {name for node in model.graph.node if node.op_type == "Conv" for name in node.input[1:]}
    rng = np.random.default_rng(1)
    changed = 0
    for t in model.graph.initializer:
        if t.name in conv_params:
            a = numpy_helper.to_array(t)
            t.CopyFrom(numpy_helper.from_array((a * (1 + rel * rng.standard_normal(a.shape))).astype(np.float32), t.name))
            changed += 1
    assert changed > 50
    onnx.save(model, str(dst))
    return dst


def _verify(capsys, reference, candidate, *extra) -> tuple[int, dict]:
    rc = cli.main(["engine", "verify", "--onnx", str(reference), "--against", str(candidate),
                   "--views", "4", "--json", *extra])
    out = capsys.readouterr().out
    return rc, json.loads(out.strip().splitlines()[-1])


def test_against_itself_and_a_byte_different_copy(w4, tmp_path, capsys):
    rc, doc = _verify(capsys, w4, w4)
    assert rc == 0 and doc["ok"] is True
    assert all(doc[k] == 0.0 for k in KEYS if k != "ok")
    assert doc["random_views"] == 4 and doc["joints"] > 0 and doc["joints_confident"] > 0

    model = onnx.load(str(w4))
    model.producer_name, model.producer_version = "another-exporter", "9.9"
    copy = tmp_path / "copy.onnx"
    onnx.save(model, str(copy))
    assert hashlib.sha256(copy.read_bytes()).digest() != hashlib.sha256(w4.read_bytes()).digest()
    rc, doc = _verify(capsys, w4, copy)
    assert rc == 0 and doc["ok"] is True and doc["candidate_sha256"] != doc["reference_sha256"]
    assert all(doc[k] == 0.0 for k in KEYS if k != "ok")


def test_a_1e6_perturbation_passes_with_a_small_nonzero_difference(w4, tmp_path, capsys):
    rc, doc = _verify(capsys, w4, _perturbed(w4, tmp_path / "p.onnx", 1e-6))
    assert rc == 0 and doc["ok"] is True
    assert 0.0 < doc["heatmap_max_abs"] < 1e-3 and 0.0 < doc["heatmap_max_rel"] < 1e-4
    assert doc["kp_px_max"] < 0.01 and doc["kp_px_p95"] <= doc["kp_px_max"]
    assert doc["kp_px_max"] > 0.0 or doc["kp_px_max_confident"] > 0.0


def test_a_30_percent_perturbation_fails(w4, tmp_path, capsys):
    rc = cli.main(["engine", "verify", "--onnx", str(w4), "--against", str(_perturbed(w4, tmp_path / "p.onnx", 0.3)),
                   "--views", "4"])
    out = capsys.readouterr().out
    assert rc == 1
    verdict = [line for line in out.splitlines() if line.startswith("verdict")]
    assert verdict and "FAILED" in verdict[0] and "heatmap difference" in verdict[0]


def test_another_output_shape_is_refused_in_one_line(w4, tmp_path, capsys):
    other = tiny_model(tmp_path / "j16.onnx", joints=16)
    assert cli.main(["engine", "verify", "--onnx", str(w4), "--against", str(other)]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "j16.onnx" in err[0] and "[N,17,96,72]" in err[0]
    assert "Traceback" not in captured.err and captured.out == ""


def test_recorded_frames_are_compared_too(w4, tmp_path, capsys):
    write_replay(tmp_path / "rec", replay_frames.frames(n=3), fps=30.0, codec="png")
    rc, doc = _verify(capsys, w4, w4, "--frames", str(tmp_path / "rec"))
    assert rc == 0 and doc["recorded_frames"] == 3 and doc["views"] == 4 + 2 * 3


def test_an_engine_candidate_without_tensorrt_is_one_line(w4, tmp_path, capsys):
    import importlib.util

    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt is installed here: this checks the machine without it")
    engine = tmp_path / "w4.engine"
    engine.write_bytes(b"not checked before tensorrt is imported")
    assert cli.main(["engine", "verify", "--onnx", str(w4), "--against", str(engine)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "TensorRT is not installed here" in err[0] and "python3-libnvinfer" in err[0]
    assert cli.main(["engine", "verify", "--onnx", str(w4), "--against", str(tmp_path / "gone.plan")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "gone.plan" in err[0] and "no such" in err[0]
