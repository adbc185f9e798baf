"""The engine sidecar refuses an engine on the wrong TensorRT, GPU or model, and says how to rebuild it.

A TensorRT engine runs only where it was built; the sidecar records where that was, and
``check`` against a described runtime must name exactly the fields that differ (TensorRT version,
GPU name, compute capability, ONNX sha256), each alone and together, in ONE line that contains the
exact ``agma engine build`` command with the sidecar's own precision and batch. A sidecar that is
missing or corrupt is one line naming the sidecar file; a written sidecar reads back equal, and the
write is atomic (no temporary file left, an old sidecar replaced whole).
"""
from __future__ import annotations

import dataclasses
import json

import pytest

from appliance.pose.engines.sidecar import (
    EngineSidecar,
    RuntimeDescription,
    SidecarError,
    check,
    read_sidecar,
    sidecar_path,
    write_sidecar,
)

SHA = "ab" * 32
OTHER_SHA = "cd" * 32
SIDECAR = EngineSidecar(tensorrt_version="8.6.2", gpu_name="Orin", compute_capability="8.7", onnx_sha256=SHA,
                        precision="fp16", profile_min_batch=1, profile_opt_batch=2, profile_max_batch=4,
                        built_at="2026-12-02T08:00:00Z", software_version="agma 0.1.0",
                        onnx_path="engines/hrnet_w32.onnx", engine_file="hrnet_w32.engine")
HERE = RuntimeDescription(tensorrt_version="8.6.2", gpu_name="Orin", compute_capability="8.7")
REBUILD = "agma engine build --onnx engines/hrnet_w32.onnx -o /box/hrnet_w32.engine --fp16 --batch 4"


def test_a_matching_runtime_passes():
    assert check(SIDECAR, HERE) is None
    assert check(SIDECAR, dataclasses.replace(HERE, expected_onnx_sha256=SHA)) is None


FIELDS = ("TensorRT 8.6.2", "GPU 'Orin'", "compute capability 8.7", "ONNX sha256")


@pytest.mark.parametrize("change, named", [
    ({"tensorrt_version": "10.3.0"}, ["TensorRT 8.6.2, this is TensorRT 10.3.0"]),
    ({"gpu_name": "NVIDIA H200"}, ["GPU 'Orin', this is 'NVIDIA H200'"]),
    ({"compute_capability": "9.0"}, ["compute capability 8.7, this is 9.0"]),
    ({"expected_onnx_sha256": OTHER_SHA}, [f"ONNX sha256 {SHA[:12]}..., expected {OTHER_SHA[:12]}..."]),
    ({"tensorrt_version": "10.3.0", "gpu_name": "NVIDIA H200", "compute_capability": "9.0"},
     ["TensorRT 8.6.2, this is TensorRT 10.3.0", "GPU 'Orin', this is 'NVIDIA H200'",
      "compute capability 8.7, this is 9.0"]),
])
def test_each_mismatch_is_named_with_the_rebuild_command(change, named):
    message = check(SIDECAR, dataclasses.replace(HERE, **change), engine_path="/box/hrnet_w32.engine")
    assert message is not None and "\n" not in message
    assert message.startswith("hrnet_w32.engine was built for ")
    for phrase in named:
        assert phrase in message
    for field in FIELDS:  # what matches is not named
        if not any(phrase.startswith(field) for phrase in named):
            assert field not in message
    assert message.endswith(f"rebuild it here with: {REBUILD}")


def test_rebuild_command_follows_the_sidecar():
    """fp32 engines rebuild without --fp16, at their own batch; an unknown ONNX path is named by its sha."""
    fp32 = dataclasses.replace(SIDECAR, precision="fp32", profile_opt_batch=2, profile_max_batch=2, onnx_path=None)
    message = check(fp32, dataclasses.replace(HERE, gpu_name="Xavier"))
    assert message.endswith(f"agma engine build --onnx ONNX_{SHA[:12]}.onnx -o hrnet_w32.engine --batch 2")


def test_round_trip_is_atomic(tmp_path):
    engine = tmp_path / "hrnet w32.engine"
    assert write_sidecar(engine, SIDECAR) == tmp_path / "hrnet w32.engine.json"
    assert read_sidecar(engine) == SIDECAR
    newer = dataclasses.replace(SIDECAR, built_at="2026-12-03T00:00:00Z")
    write_sidecar(engine, newer)
    assert read_sidecar(engine) == newer
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hrnet w32.engine.json"]
    doc = json.loads(sidecar_path(engine).read_text())
    assert doc["format"] == "agma-engine-sidecar" and doc["version"] == 1 and doc["profile_max_batch"] == 4


def test_missing_sidecar_is_one_line_naming_it(tmp_path):
    with pytest.raises(SidecarError) as exc:
        read_sidecar(tmp_path / "x.engine")
    text = str(exc.value)
    assert text.startswith(str(tmp_path / "x.engine.json") + ": no engine sidecar") and "\n" not in text


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe\x00", "unreadable"),
    (b'{"format": "something-else"}', "not an agma engine sidecar"),
    (b'{"format": "agma-engine-sidecar", "version": 2}', "version 2"),
    (None, 'no "gpu_name"'),
    ("profile_max_batch", '"profile_max_batch" is \'4\''),
    ("precision", "precision 'int8'"),
])
def test_corrupt_sidecar_is_one_line_naming_it(tmp_path, content, problem):
    engine = tmp_path / "x.engine"
    doc = json.loads(SIDECAR.to_json())
    if content is None:
        del doc["gpu_name"]
        content = json.dumps(doc).encode()
    elif content == "profile_max_batch":
        doc["profile_max_batch"] = "4"
        content = json.dumps(doc).encode()
    elif content == "precision":
        doc["precision"] = "int8"
        content = json.dumps(doc).encode()
    sidecar_path(engine).write_bytes(content)
    with pytest.raises(SidecarError) as exc:
        read_sidecar(engine)
    text = str(exc.value)
    assert text.startswith(str(sidecar_path(engine)) + ":") and problem in text and "\n" not in text
