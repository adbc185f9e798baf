"""The ONNX Runtime engine: any ONNX file that honours the model contract, behind HeatmapEngine.

This is the only module that imports ``onnxruntime``, and only when an engine is created, so the
rest of the product (and ``agma --help``) works without it. It runs on the CPU, and on the CUDA
execution provider first where the installed ONNX Runtime has one (``onnxruntime-gpu``).

The model is checked when it is opened: one float32 input of shape (N, 3, 384, 288) and one
float32 output of shape (N, 17, 96, 72), N dynamic or fixed (DESIGN.md, "Model contract"); a
model that does not honour it is refused with a message that says what differs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from appliance.errors import AgmaError
from appliance.joints import NUM_JOINTS
from appliance.pose.engine import (
    HEATMAP_HEIGHT,
    HEATMAP_WIDTH,
    INPUT_HEIGHT,
    INPUT_WIDTH,
    ModelInfo,
)
from appliance.files import sha256_file

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"

#: The contract, without the batch axis.
INPUT_CHW = (3, INPUT_HEIGHT, INPUT_WIDTH)
OUTPUT_CHW = (NUM_JOINTS, HEATMAP_HEIGHT, HEATMAP_WIDTH)


class ModelContractError(AgmaError):
    """An ONNX model whose inputs or outputs do not match the model contract."""


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime  # noqa: PLC0415 - vendor SDK, imported lazily on purpose
    except ImportError as exc:
        raise AgmaError(
            "the ONNX Runtime engine needs the 'onnxruntime' package "
            "(pip install onnxruntime, or onnxruntime-gpu for CUDA)") from exc
    return onnxruntime


def available_providers() -> list[str]:
    """The execution providers of the installed ONNX Runtime (raises AgmaError if absent)."""
    return list(_import_onnxruntime().get_available_providers())


def default_providers() -> list[str]:
    """CUDA first where present, then the CPU."""
    available = available_providers()
    return ([CUDA_PROVIDER] if CUDA_PROVIDER in available else []) + [CPU_PROVIDER]


def _dims_text(shape: Sequence[Any]) -> str:
    return "[" + ",".join(str(d) if isinstance(d, int) else (d or "?") for d in shape) + "]"


def check_contract(inputs: Sequence[Any], outputs: Sequence[Any], where: str) -> None:
    """Raise ModelContractError unless the model has one float32 input (N, 3, 384, 288) and one
    float32 output (N, 17, 96, 72). ``inputs``/``outputs`` have ``name``, ``type`` (ORT's
    "tensor(float)") and ``shape`` (ints, or strings/None for symbolic dims)."""
    problems = []
    if len(inputs) != 1:
        problems.append(f"{len(inputs)} inputs, expected 1")
    if len(outputs) != 1:
        problems.append(f"{len(outputs)} outputs, expected 1")
    for role, args, chw in (("input", inputs[:1], INPUT_CHW), ("output", outputs[:1], OUTPUT_CHW)):
        for arg in args:
            expected = f"float32 [N,{','.join(str(d) for d in chw)}]"
            if arg.type != "tensor(float)":
                problems.append(f"{role} '{arg.name}' is {arg.type}, expected {expected}")
            shape = list(arg.shape or [])
            if len(shape) != 4 or any(
                    not isinstance(got, int) or got != want for got, want in zip(shape[1:], chw)):
                problems.append(f"{role} '{arg.name}' has shape {_dims_text(shape)}, expected {expected}")
    if problems:
        raise ModelContractError(f"{where} does not honour the model contract: " + "; ".join(problems))


class OnnxEngine:
    """HeatmapEngine on ONNX Runtime: ``infer(float32 (N,3,384,288)) -> float32 (N,17,96,72)``.

    ``providers`` defaults to CUDA then CPU where CUDA is present, else CPU; ``threads`` sets
    ONNX Runtime's intra-op thread count (None: its default). ``info`` carries the model file's
    sha256, which a session records."""

    def __init__(self, path: str | os.PathLike, *, providers: Sequence[str] | None = None,
                 threads: int | None = None) -> None:
        ort = _import_onnxruntime()
        self.path = Path(path)
        if not self.path.is_file():
            raise AgmaError(f"{self.path}: no such ONNX model file")
        wanted = list(providers) if providers is not None else default_providers()
        unknown = [p for p in wanted if p not in ort.get_available_providers()]
        if unknown:
            raise AgmaError(f"ONNX Runtime here has no {', '.join(unknown)} "
                            f"(available: {', '.join(ort.get_available_providers())})")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self._session = ort.InferenceSession(str(self.path), sess_options=options,
                                                 providers=wanted)
        except Exception as exc:  # ORT raises its own exception types (InvalidGraph, Fail, ...)
            raise AgmaError(f"{self.path}: ONNX Runtime cannot load the model: "
                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}") from None
        inputs, outputs = self._session.get_inputs(), self._session.get_outputs()
        check_contract(inputs, outputs, str(self.path))
        self.input_name = inputs[0].name
        self.output_name = outputs[0].name
        batch = inputs[0].shape[0]
        #: the batch size the model is fixed to, or None when the batch axis is dynamic
        self.fixed_batch: int | None = batch if isinstance(batch, int) else None
        self.providers: list[str] = list(self._session.get_providers())
        self.info = ModelInfo(name=f"onnx:{self.path}", sha256=sha256_file(self.path))

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, 3, 384, 288) -> float32 (N, 17, 96, 72)."""
        if batch.ndim != 4 or tuple(batch.shape[1:]) != INPUT_CHW:
            raise ValueError(f"batch has shape {batch.shape}, expected (N, {', '.join(map(str, INPUT_CHW))})")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if self.fixed_batch is not None and batch.shape[0] != self.fixed_batch:
            # a model exported with a fixed batch: run it in slices of that size
            if batch.shape[0] % self.fixed_batch:
                raise ValueError(f"batch of {batch.shape[0]} is not a multiple of the model's "
                                 f"fixed batch {self.fixed_batch}")
            parts = [self._run(batch[i:i + self.fixed_batch])
                     for i in range(0, batch.shape[0], self.fixed_batch)]
            return np.concatenate(parts, axis=0)
        return self._run(batch)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        (out,) = self._session.run([self.output_name], {self.input_name: batch})
        return out

    def __repr__(self) -> str:
        return f"OnnxEngine({str(self.path)!r}, providers={self.providers})"
