"""A session's engine provenance is the sidecar's: the ONNX model, TensorRT, precision and GPU.

Why: a box builds its own engine, so the engine file's sha256 differs on every box and says
nothing to a researcher comparing sessions; what does is the ONNX model it was built from and how
(sessions.engine_* columns, docs/research-data.md). The TensorRT engine's ModelInfo takes them from
its sidecar through ``provenance``; checked here field by field against a hand-written sidecar.
"""
from __future__ import annotations

from appliance.pose.engine import EngineProvenance
from appliance.pose.engines.sidecar import EngineSidecar
from appliance.pose.engines.tensorrt_engine import provenance


def test_provenance_is_the_sidecars():
    sidecar = EngineSidecar(tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
                            onnx_sha256="0f" * 32, precision="fp16", profile_min_batch=1, profile_opt_batch=2,
                            profile_max_batch=4, built_at="2026-12-02T08:00:00Z", software_version="agma 0.1.0")
    assert provenance(sidecar) == EngineProvenance(onnx_sha256="0f" * 32, tensorrt_version="10.3.0",
                                                   precision="fp16", gpu="Orin sm 8.7")
