"""The engine protocol: a batch of preprocessed views in, heatmaps out (DESIGN.md, "Model contract").

input  float32 (N, 3, 384, 288): RGB, /255, normalised with MODEL_MEAN and MODEL_STD
output float32 (N, 17, 96, 72): one heatmap per joint

TensorRT, ONNX Runtime and any network that honours this contract plug in behind it.
An engine may also offer ``infer_on_device(batch)`` returning device heatmaps that decode
themselves (appliance.pose.cuda.decoder.GpuHeatmaps: TensorRT); the pose stage then takes that path.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

INPUT_HEIGHT, INPUT_WIDTH = 384, 288
HEATMAP_HEIGHT, HEATMAP_WIDTH = 96, 72
MODEL_MEAN = (0.485, 0.456, 0.406)
MODEL_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class EngineProvenance:
    """Where a TensorRT engine came from, from its sidecar: what a researcher can compare across boxes.

    An engine is built on the box for its GPU and TensorRT, so the engine file's own sha256 differs
    from box to box; the ONNX model it was built from (onnx_sha256), the TensorRT that built it, the
    precision and the GPU say which network ran and how. Recorded in the sessions row
    (engine_onnx_sha256, engine_tensorrt_version, engine_precision, engine_gpu).
    """

    onnx_sha256: str
    tensorrt_version: str  # e.g. "10.3.0"
    precision: str  # "fp16" or "fp32"
    gpu: str  # GPU name and compute capability, e.g. "Orin sm 8.7"


@dataclass(frozen=True)
class ModelInfo:
    """What a session records about the model: its name/path, file sha256 (None when simulated),
    and for a TensorRT engine its provenance (None for ONNX Runtime and the simulated model)."""

    name: str
    sha256: str | None = None
    provenance: EngineProvenance | None = None


@runtime_checkable
class HeatmapEngine(Protocol):
    info: ModelInfo

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, 3, 384, 288) -> float32 (N, 17, 96, 72)."""
        ...
