"""The TensorRT engine: the ONLY module of agma that imports ``tensorrt``, and only lazily.

Builder (:func:`build_engine_file`, ``agma engine build``): the ONNX parser, an explicit-batch
network, one optimisation profile for batch 1-4 (2 = both views, 4 = with the flip test), FP16
where ``platform_has_fast_fp16``, ``build_serialized_network``; the engine and its JSON sidecar
(appliance.pose.engines.sidecar) are written beside each other under temporary names and renamed
into place, engine first, sidecar last (a reader that finds a new engine with an old sidecar
refuses it: the sidecar's ONNX sha256 and build time are those of the old engine).

Runtime (:class:`TensorRTEngine`, ``pose.model = "tensorrt:PATH"`` / ``trt:PATH``): deserialise;
check the sidecar against the running TensorRT and GPU (a mismatch is refused with the exact
rebuild command); the name-based tensor API only (``num_io_tensors``, ``get_tensor_name``,
``get_tensor_mode``, ``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``): the one
API that both TensorRT 8.6 (JetPack 6.0) and 10.x (JetPack 6.1/6.2) have
(tests/pose/test_tensorrt_api_surface.py checks the names against both). The thread that opens
the engine owns its CUDA context (pycuda, through appliance.pose.cuda.decoder), a pinned host
input buffer and the device buffers, allocated once, and one stream; ``infer`` must be called
from that thread (the inference thread, #10).

Three ways to run it, all on the engine's one stream. ``infer`` takes a host batch and copies
the heatmaps back to the host (``agma engine verify`` compares them with ONNX Runtime's; the
bench times it). ``infer_on_device`` takes a host batch and leaves the heatmaps in the engine's
output buffer as a :class:`appliance.pose.cuda.decoder.GpuHeatmaps` on that buffer and stream.
``infer_views_on_device`` (the pose stage's path, HeatmapPoseStage) takes the frame's two uint8
views and their crops: preprocessing runs on the GPU into the engine's input binding
(:class:`appliance.pose.cuda.decoder.CudaPreprocessor`: one pinned copy of the views, one upload,
one kernel), so no float batch exists on the host. In both device paths the flip test's merge
(``GpuHeatmaps.merge_flip``) and the decoder run as CUDA kernels, and only N x 17 x 3 floats come
back, at the frame's one stream synchronisation. The decoder and the preprocessor (their kernels
compiled for this GPU, cached; one cubin) are created once, in the owning thread, when the engine
is opened. A GpuHeatmaps must be decoded before the engine's next run, which writes the same
buffer.

Status: NOT RUN ANYWHERE. No machine of this project has had TensorRT (the development machines
and CI have none; the box's acceptance script is the proof), nor a GPU with pycuda. The device
path (``infer_views_on_device`` -> preprocessing kernel -> engine -> merge kernel -> decode
kernels, no float batch on the host, no copy of the heatmaps) is written;
its kernels are the ones checked on the CPU through the host shim (the merge bit-identical to
``Preprocessor.merge``: tests/pose/test_cuda_flip_merge_host.py; the decoder against NumPy:
test_cuda_host_parity.py; the preprocessing kernel equal to the OpenCV path:
test_cuda_preprocess_host.py), and their pycuda logic runs against a host stand-in for pycuda
(test_cuda_gpu.py, test_cuda_preprocess_gpu.py), but it has never run on a GPU, and this
module's TensorRT calls have never run at all; the GPU tests of those two files are the first
check where a GPU exists.
"""
from __future__ import annotations

import datetime
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from appliance import __version__
from appliance.errors import AgmaError
from appliance.files import fsync_dir, sha256_file
from appliance.pose.engine import INPUT_HEIGHT, INPUT_WIDTH, EngineProvenance, ModelInfo
from appliance.pose.engines.sidecar import (
    EngineSidecar,
    RuntimeDescription,
    check,
    read_sidecar,
    sidecar_path,
)
from appliance.pose.engines.onnx_runtime import INPUT_CHW, OUTPUT_CHW

if TYPE_CHECKING:  # pycuda is imported lazily, in appliance.pose.cuda.decoder only
    from appliance.pose.cuda.decoder import GpuHeatmaps

#: Suffixes of serialised TensorRT engines (trtexec writes .plan, agma engine build .engine).
ENGINE_SUFFIXES = (".engine", ".plan")
#: The optimisation profile's batch range: 1 view .. both views with the flip test.
PROFILE_MIN_BATCH, PROFILE_MAX_BATCH = 1, 4

NOT_INSTALLED = ("TensorRT is not installed here (no Python module 'tensorrt'): run this on the box, where "
                 "JetPack's python3-libnvinfer provides it (sudo apt install python3-libnvinfer), with agma in a "
                 "venv created with --system-site-packages (python3 -m venv --system-site-packages .venv)")


def is_engine_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in ENGINE_SUFFIXES


def import_tensorrt() -> Any:
    """The ``tensorrt`` module, or AgmaError(NOT_INSTALLED): the one place it is imported."""
    try:
        import tensorrt  # noqa: PLC0415 - vendor SDK, imported lazily on purpose
    except ImportError:
        raise AgmaError(NOT_INSTALLED) from None
    return tensorrt


def preflight(path: str | os.PathLike) -> Any:
    """The ``tensorrt`` module once ``path`` is a file; AgmaError (one line) otherwise. The file is
    checked first: a missing engine is named whether or not TensorRT is installed. Commands call it
    before anything starts, so the refusal is the only line they print."""
    path = Path(path)
    if not path.is_file():
        raise AgmaError(f"{path}: no such TensorRT engine file")
    return import_tensorrt()


def _cuda() -> Any:
    from appliance.pose.cuda.decoder import driver

    return driver()


def describe_runtime(trt: Any, cuda: Any, device: int = 0,
                     expected_onnx_sha256: str | None = None) -> RuntimeDescription:
    """The running TensorRT and the GPU ``device`` (pycuda.driver, initialised)."""
    dev = cuda.Device(device)
    major, minor = dev.compute_capability()
    return RuntimeDescription(tensorrt_version=str(trt.__version__), gpu_name=str(dev.name()),
                              compute_capability=f"{major}.{minor}", expected_onnx_sha256=expected_onnx_sha256)


def provenance(sidecar: EngineSidecar) -> EngineProvenance:
    """What a session records of the engine (sessions.engine_*): what it was built from and with."""
    return EngineProvenance(onnx_sha256=sidecar.onnx_sha256, tensorrt_version=sidecar.tensorrt_version,
                            precision=sidecar.precision,
                            gpu=f"{sidecar.gpu_name} sm {sidecar.compute_capability}")


def _explicit_batch_flags(trt: Any) -> int:
    """TensorRT 8.6 needs EXPLICIT_BATCH; 10 has only explicit batch (the flag is deprecated there)."""
    if int(str(trt.__version__).split(".")[0]) >= 10:
        return 0
    return 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)


def build_serialized(trt: Any, onnx_bytes: bytes, *, fp16: bool, opt_batch: int, max_batch: int,
                     workspace_mb: int, where: str) -> tuple[bytes, str]:
    """ONNX bytes -> (serialised engine, precision "fp16"/"fp32"); AgmaError (one line) on failure."""
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(_explicit_batch_flags(trt))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_bytes):
        errors = "; ".join(str(parser.get_error(i)).strip() for i in range(parser.num_errors))
        raise AgmaError(f"{where}: TensorRT cannot parse the ONNX model: {errors or 'no reason given'}")
    if network.num_inputs != 1 or network.num_outputs != 1:
        raise AgmaError(f"{where}: {network.num_inputs} inputs and {network.num_outputs} outputs, expected 1 and 1")
    input_name = network.get_input(0).name
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mb) << 20)
    use_fp16 = bool(fp16) and bool(builder.platform_has_fast_fp16)
    if use_fp16:
        config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    profile.set_shape(input_name, (PROFILE_MIN_BATCH, *INPUT_CHW), (opt_batch, *INPUT_CHW), (max_batch, *INPUT_CHW))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise AgmaError(f"{where}: TensorRT could not build an engine (its log above says why)")
    return bytes(memoryview(serialized)), ("fp16" if use_fp16 else "fp32")


def build_engine_file(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, *, fp16: bool = True,
                      batch: int = PROFILE_MAX_BATCH, workspace_mb: int = 1024, device: int = 0) -> EngineSidecar:
    """Build ``engine_path`` (and its sidecar) from an ONNX file on this machine's TensorRT and GPU."""
    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if batch not in (2, 4):
        raise AgmaError(f"--batch {batch}: expected 2 (both views) or 4 (with the flip test)")
    if not onnx_path.is_file():
        raise AgmaError(f"{onnx_path}: no such ONNX model file")
    trt = import_tensorrt()
    cuda = _cuda()
    ctx = cuda.Device(device).make_context()
    try:
        runtime = describe_runtime(trt, cuda, device)
        data, precision = build_serialized(trt, onnx_path.read_bytes(), fp16=fp16, opt_batch=2, max_batch=batch,
                                           workspace_mb=workspace_mb, where=str(onnx_path))
    finally:
        ctx.pop()
        ctx.detach()
    sidecar = EngineSidecar(
        tensorrt_version=runtime.tensorrt_version, gpu_name=runtime.gpu_name,
        compute_capability=runtime.compute_capability, onnx_sha256=sha256_file(onnx_path), precision=precision,
        profile_min_batch=PROFILE_MIN_BATCH, profile_opt_batch=2, profile_max_batch=batch,
        built_at=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        software_version=f"agma {__version__}", onnx_path=str(onnx_path), engine_file=engine_path.name)
    _write_pair(engine_path, data, sidecar)
    return sidecar


def _write_pair(engine_path: Path, data: bytes, sidecar: EngineSidecar) -> None:
    """Both files written and fsynced under temporary names, then renamed: engine, sidecar, folder."""
    side = sidecar_path(engine_path)
    tmp_engine = engine_path.with_name(f".{engine_path.name}.partial")
    tmp_side = side.with_name(f".{side.name}.partial")
    try:
        for tmp, payload in ((tmp_engine, data), (tmp_side, sidecar.to_json().encode("utf-8"))):
            with open(tmp, "wb") as f:
                f.write(payload)
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp_engine, engine_path)
        os.replace(tmp_side, side)
    finally:
        for tmp in (tmp_engine, tmp_side):
            try:
                tmp.unlink()
            except FileNotFoundError:
                pass
    fsync_dir(engine_path.parent)


class TensorRTEngine:
    """HeatmapEngine on TensorRT: ``infer(float32 (N,3,384,288)) -> float32 (N,17,96,72)``, N <= the
    profile's maximum, or ``infer_on_device`` (the same, left on the GPU as GpuHeatmaps). Opened,
    used and closed in one thread (it owns the CUDA context, the stream and the decoder)."""

    def __init__(self, path: str | os.PathLike, device: int = 0) -> None:
        self.path = Path(path)
        trt = preflight(self.path)
        sidecar = read_sidecar(self.path)  # missing or corrupt: one line naming the sidecar
        cuda = _cuda()
        self._cuda = cuda
        self._owner = threading.get_ident()
        self._ctx = cuda.Device(device).make_context()
        try:
            refusal = check(sidecar, describe_runtime(trt, cuda, device), engine_path=self.path)
            if refusal:
                raise AgmaError(refusal)
            self._open(trt, sidecar)
            # The device decoder, in this (the owning) thread with the context current: its
            # kernels compiled for this GPU once (cached), its buffers allocated on first use.
            from appliance.pose.cuda.decoder import CudaHeatmapDecoder, CudaPreprocessor  # noqa: PLC0415

            self._decoder = CudaHeatmapDecoder()
            self._preprocessor = CudaPreprocessor(self._decoder)
        except BaseException:
            self._release()
            raise
        self.sidecar = sidecar
        self.info = ModelInfo(name=f"tensorrt:{self.path}", sha256=sha256_file(self.path),
                              provenance=provenance(sidecar))

    def _open(self, trt: Any, sidecar: EngineSidecar) -> None:
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if engine is None:
            raise AgmaError(f"{self.path}: corrupt TensorRT engine (TensorRT {trt.__version__} cannot deserialise it)")
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or len(outputs) != 1:
            raise AgmaError(f"{self.path}: {len(inputs)} inputs and {len(outputs)} outputs, expected 1 and 1")
        self.input_name, self.output_name = inputs[0], outputs[0]
        out_shape = tuple(engine.get_tensor_shape(self.output_name))
        if out_shape[1:] != OUTPUT_CHW:
            raise AgmaError(f"{self.path}: output '{self.output_name}' has shape {out_shape}, "
                            f"expected (N, {', '.join(map(str, OUTPUT_CHW))})")
        for name in (self.input_name, self.output_name):
            if np.dtype(trt.nptype(engine.get_tensor_dtype(name))) != np.float32:
                raise AgmaError(f"{self.path}: tensor '{name}' is not float32 (the model contract's I/O)")
        self.max_batch = int(sidecar.profile_max_batch)
        self._engine = engine
        self._context = engine.create_execution_context()
        cuda = self._cuda
        self._host_in = cuda.pagelocked_empty((self.max_batch, 3, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
        self._host_out = cuda.pagelocked_empty((self.max_batch, *OUTPUT_CHW), np.float32)
        self._dev_in = cuda.mem_alloc(self._host_in.nbytes)
        self._dev_out = cuda.mem_alloc(self._host_out.nbytes)
        self._stream = cuda.Stream()
        self._context.set_tensor_address(self.input_name, int(self._dev_in))
        self._context.set_tensor_address(self.output_name, int(self._dev_out))

    def _enqueue(self, batch: np.ndarray) -> int:
        """Queue the batch's copy in and the engine's run on the stream; returns N. The previous
        call's work is waited for first: the pinned input buffer is rewritten here."""
        if batch.ndim != 4 or tuple(batch.shape[1:]) != INPUT_CHW:
            raise ValueError(f"batch has shape {batch.shape}, expected (N, {', '.join(map(str, INPUT_CHW))})")
        n = self._check_call(int(batch.shape[0]))
        self._stream.synchronize()
        self._host_in[:n] = batch
        self._cuda.memcpy_htod_async(self._dev_in, self._host_in[:n], self._stream)
        self._execute(n)
        return n

    def _check_call(self, n: int) -> int:
        """The calling thread owns the context and ``n`` fits the profile; -> n."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("TensorRTEngine.infer called from a thread that does not own its CUDA context")
        if not 1 <= n <= self.max_batch:
            raise ValueError(f"batch of {n}: this engine's profile takes 1 to {self.max_batch}")
        return n

    def _execute(self, n: int) -> None:
        """Queue the engine's run on its stream for a batch of ``n`` already in the input buffer."""
        self._context.set_input_shape(self.input_name, (n, *INPUT_CHW))
        if not self._context.execute_async_v3(self._stream.handle):
            raise AgmaError(f"{self.path}: TensorRT failed to run the engine")

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 (N, 3, 384, 288) -> float32 (N, 17, 96, 72), N in 1 .. max_batch, copied to the host."""
        n = self._enqueue(batch)
        self._cuda.memcpy_dtoh_async(self._host_out[:n], self._dev_out, self._stream)
        self._stream.synchronize()
        return self._host_out[:n].copy()

    def infer_on_device(self, batch: np.ndarray) -> GpuHeatmaps:
        """float32 (N, 3, 384, 288) -> GpuHeatmaps (N, 17, 96, 72) float32 in the engine's output
        buffer, on the engine's stream: the copy in and the run are queued, nothing is copied back
        and nothing waits for this run (only for the previous call's, as every call does). Decode
        it (``decode_to_image``, after ``merge_flip`` for the flip test) before the next
        infer/infer_on_device, which overwrites that buffer."""
        n = self._enqueue(batch)
        return self._decoder.wrap(int(self._dev_out), (n, *OUTPUT_CHW), np.float32, self._stream)

    def infer_views_on_device(self, left: np.ndarray, right: np.ndarray, crops, flip_test: bool) -> GpuHeatmaps:
        """Both uint8 BGR views (H, W, 3) of a frame -> GpuHeatmaps (N, 17, 96, 72) in the engine's
        output buffer, N = 2, or 4 with the flip test ([views, mirrored views]): preprocessing runs
        on the GPU (CudaPreprocessor: one pinned copy, one upload, one kernel writing the engine's
        input binding), then the engine, all queued on the engine's stream; nothing is copied back
        and nothing waits. The pose stage's path (HeatmapPoseStage); decode before the next call."""
        n = self._check_call(4 if flip_test else 2)
        # The previous run read the input buffer before this kernel writes it: one stream orders both.
        self._preprocessor.enqueue(left, right, crops, flip_test, int(self._dev_in), self._stream)
        self._execute(n)
        return self._decoder.wrap(int(self._dev_out), (n, *OUTPUT_CHW), np.float32, self._stream)

    def _release(self) -> None:
        for attr in ("_preprocessor", "_decoder", "_context", "_engine", "_runtime", "_dev_in", "_dev_out", "_stream"):
            if hasattr(self, attr):
                delattr(self, attr)
        ctx, self._ctx = getattr(self, "_ctx", None), None
        if ctx is not None:
            ctx.pop()
            ctx.detach()

    def close(self) -> None:
        """Free the decoder, the engine and its buffers and the CUDA context (in the owning thread)."""
        self._release()


def open_engine(path: str | os.PathLike) -> TensorRTEngine:
    """A HeatmapEngine for a serialised TensorRT engine; AgmaError (one line) when it cannot run here."""
    return TensorRTEngine(path)
