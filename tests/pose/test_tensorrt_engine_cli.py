"""`agma engine info F.engine` and `agma engine build` where TensorRT cannot run: one line, exit 1, no traceback.

A missing engine is named; an engine without its sidecar names the sidecar; a corrupt sidecar
names it and what is wrong; a good sidecar is printed with "unknown" for the match on a machine
without tensorrt (it cannot describe its TensorRT), and `--json` carries every sidecar field.
`agma engine build` without tensorrt says how to run it on the box; a bad output name or batch
is a usage error before anything is built.
"""
from __future__ import annotations

import importlib.util
import json

import pytest

from appliance.pose.engines.sidecar import EngineSidecar, write_sidecar
from tests.helpers import agma

needs_no_tensorrt = pytest.mark.skipif(importlib.util.find_spec("tensorrt") is not None,
                                       reason="tensorrt is installed: this is the machine without it")

SIDECAR = EngineSidecar(tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7", onnx_sha256="0" * 64,
                        precision="fp16", profile_min_batch=1, profile_opt_batch=2, profile_max_batch=4,
                        built_at="2026-12-02T08:00:00Z", software_version="agma 0.1.0", onnx_path="w32.onnx",
                        engine_file="w32.engine")


def _one_line(proc) -> str:
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 1 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_missing_engine_and_missing_or_corrupt_sidecar(tmp_path):
    engine = tmp_path / "w32.engine"
    assert _one_line(agma("engine", "info", str(engine))) == f"agma engine: {engine}: no such TensorRT engine file"
    engine.write_bytes(b"\x00" * 32)
    line = _one_line(agma("engine", "info", str(engine)))
    assert line.startswith(f"agma engine: {engine}.json: no engine sidecar beside w32.engine")
    (tmp_path / "w32.engine.json").write_text('{"format": "agma-engine-sidecar", "version": 1}')
    line = _one_line(agma("engine", "info", str(engine)))
    assert line.startswith(f"agma engine: {engine}.json: corrupt engine sidecar")


@needs_no_tensorrt
def test_a_good_sidecar_is_shown_with_an_unknown_match(tmp_path):
    engine = tmp_path / "w32.engine"
    engine.write_bytes(b"\x00" * 32)
    write_sidecar(engine, SIDECAR)
    proc = agma("engine", "info", str(engine), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    assert doc["tensorrt_version"] == "10.3.0" and doc["profile_max_batch"] == 4 and doc["precision"] == "fp16"
    assert doc["matches_this_machine"] is None and "TensorRT is not installed here" in doc["mismatch"]
    text = agma("engine", "info", str(engine)).stdout
    assert "gpu_name            Orin" in text and "this machine        unknown: TensorRT is not installed" in text


@needs_no_tensorrt
def test_build_without_tensorrt(tmp_path):
    onnx = tmp_path / "m.onnx"
    line = _one_line(agma("engine", "build", "--onnx", str(onnx), "-o", str(tmp_path / "m.engine")))
    assert line == f"agma engine: {onnx}: no such ONNX model file"
    onnx.write_bytes(b"x")
    line = _one_line(agma("engine", "build", "--onnx", str(onnx), "-o", str(tmp_path / "m.engine"), "--fp16"))
    assert "TensorRT is not installed here" in line and "python3-libnvinfer" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_build_usage_errors(tmp_path):
    proc = agma("engine", "build", "--onnx", "m.onnx", "-o", str(tmp_path / "m.onnx"))
    assert proc.returncode == 2 and "should end in .engine or .plan" in proc.stderr
    proc = agma("engine", "build", "--onnx", "m.onnx", "-o", str(tmp_path / "m.engine"), "--batch", "3")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
