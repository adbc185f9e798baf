"""The GPU path of heatmap decoding: the CUDA kernels on the engine's output buffer, via pycuda.

On the box the heatmaps never leave the GPU: the TensorRT engine writes N x 17 x 96 x 72
(float32 or float16) into a device buffer on its stream; :class:`GpuHeatmaps` wraps that
buffer and ``decode_to_image`` launches the decoder on the *same* stream (one block per
heatmap, see ``appliance/pose/cuda/decode_heatmaps.cuh``), copies the N x 17 x 3 float32
(u, v, score) into pinned host memory, and synchronises that stream once to read them: the
only host synchronisation. ``appliance.pose.decode.decode_to_image`` dispatches here whenever
its input has a ``decode_to_image`` method, and logs the choice once.

The flip test on the device: the engine's batch is [views, mirrored views];
:meth:`GpuHeatmaps.merge_flip` launches the merge kernel (``merge_flip.cuh``: exactly
``Preprocessor.merge``, both pixel conventions) on the same stream into the decoder's own
float32 buffer and returns those N/2 maps as GpuHeatmaps, with no synchronisation; decoding
them is the one synchronisation of the frame.

Preprocessing on the device: :class:`CudaPreprocessor` takes a frame's two uint8 views, copies
them once into pinned memory, uploads them and launches ``preprocess.cuh`` (the same cubin) to
write the engine's float32 input on the engine's stream: TensorRTEngine.infer_views_on_device.

Lifetimes: a GpuHeatmaps points into a buffer it does not own. The engine's (``infer_on_device``)
is rewritten by the engine's next inference, the merged one by the decoder's next merge: decode
a GpuHeatmaps before either happens.

Threads: a CUDA context is current in one thread. The thread that owns the context (the
inference thread, which also owns the engine and its stream) creates the
:class:`CudaHeatmapDecoder` and makes every call; calls from another thread raise.
:class:`GpuThread` is such a thread for tools, tests and the bench.

This is the only module that imports pycuda, lazily: importing it costs nothing on a machine
without CUDA; using it there raises :class:`CudaUnavailable` with the reason.

Kernels are compiled on the box for its own SM and cached
(:func:`appliance.pose.cuda.build.build_cubin`: NVRTC, else nvcc).
"""
from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from appliance.errors import AgmaError
from appliance.pose.cuda import build as cuda_build

logger = logging.getLogger("appliance.pose.cuda.decoder")


class CudaUnavailable(AgmaError):
    """pycuda, a CUDA driver or a GPU is missing (the message says which)."""


def _driver():
    """pycuda.driver, initialised; CudaUnavailable with the reason when it cannot be."""
    try:
        import pycuda.driver as cuda  # noqa: PLC0415 - the one lazy pycuda import
    except ImportError as e:  # pragma: no cover - depends on the machine
        raise CudaUnavailable(
            f"pycuda is not installed ({e}); the GPU decoder needs it (the box's image installs it: "
            "pip install pycuda against the box's CUDA)"
        ) from e
    try:
        cuda.init()
    except Exception as e:  # pycuda.driver.Error, RuntimeError: no driver / no device
        raise CudaUnavailable(f"CUDA driver initialisation failed: {e}") from e
    return cuda


#: Public name of the one pycuda import, for the TensorRT engine (appliance.pose.engines.tensorrt_engine).
driver = _driver


def device_sm(device: int = 0) -> int:
    """The compute capability of GPU ``device`` as one number (87 for Orin); CudaUnavailable when none."""
    cuda = _driver()
    if cuda.Device.count() <= device:
        raise CudaUnavailable(f"no CUDA device {device}")
    major, minor = cuda.Device(device).compute_capability()
    return major * 10 + minor


def unavailable_reason() -> str | None:
    """Why the GPU path cannot run here (None when it can): no pycuda, no driver, no device."""
    try:
        cuda = _driver()
        if cuda.Device.count() < 1:
            return "no CUDA device"
    except CudaUnavailable as e:
        return str(e)
    except Exception as e:  # pragma: no cover
        return f"CUDA unavailable: {e}"
    return None


_logged_once: set[str] = set()
_log_lock = threading.Lock()


def _log_once(key: str, msg: str, *args: Any) -> None:
    with _log_lock:
        if key in _logged_once:
            return
        _logged_once.add(key)
    logger.info(msg, *args)


class CudaHeatmapDecoder:
    """The decoder's kernels loaded into the calling thread's current CUDA context.

    Create it in the thread that owns the context; every later call must come from there.
    ``threads`` is the block size (one block per heatmap).
    """

    def __init__(self, cache_dir: str | None = None, toolchain: str = "auto",
                 threads: int = cuda_build.DEFAULT_THREADS) -> None:
        cuda = _driver()
        self._cuda = cuda
        if cuda.Context.get_current() is None:
            raise CudaUnavailable(
                "no current CUDA context in this thread: create the decoder in the thread that owns "
                "the context (the inference thread, or a GpuThread)"
            )
        self._owner = threading.get_ident()
        dev = cuda.Context.get_device()
        major, minor = dev.compute_capability()
        self.sm = major * 10 + minor
        self.device_name = dev.name()
        self.threads = int(threads)
        self.built = cuda_build.build_cubin(self.sm, cache_dir, toolchain)
        self.module = cuda.module_from_buffer(self.built.cubin_path.read_bytes())
        self._functions = {}
        for key, name in cuda_build.ENTRY_POINTS.items():
            fn = self.module.get_function(name)
            fn.prepare([f"{cuda_build.PARAMS_SIZE}s"])  # one by-value struct AgmaDecodeParams
            self._functions[key] = fn
        self._merge_functions = {}
        for dt, name in cuda_build.MERGE_ENTRY_POINTS.items():
            fn = self.module.get_function(name)
            fn.prepare([f"{cuda_build.MERGE_PARAMS_SIZE}s"])  # one by-value struct AgmaMergeParams
            self._merge_functions[dt] = fn
        self._merge_dev = None
        self._merge_capacity = 0
        self._max_smem_set: dict[tuple[str, str], int] = {}
        self._out_dev = None
        self._out_host = None
        self._capacity = 0
        _log_once("kernels", "CUDA decoder: %s (sm_%d), cubin %s by %s %s%s", self.device_name, self.sm,
                  self.built.cubin_path.name, self.built.toolchain, self.built.cuda_version,
                  " (cached)" if self.built.cached else "")

    # -- helpers ----------------------------------------------------------------------------------
    def _check_thread(self) -> None:
        if threading.get_ident() != self._owner:
            raise RuntimeError("CudaHeatmapDecoder used from a thread that does not own its CUDA context")

    def _ensure_output(self, n_values: int) -> None:
        if n_values <= self._capacity:
            return
        cuda = self._cuda
        self._out_dev = cuda.mem_alloc(n_values * 4)
        self._out_host = cuda.pagelocked_empty(n_values, np.float32)
        self._capacity = n_values

    def _function(self, method: str, dtype: str, smem: int):
        fn = self._functions[(method, dtype)]
        if smem > 48 * 1024 and self._max_smem_set.get((method, dtype), 0) < smem:
            try:
                fn.set_attribute(self._cuda.function_attribute.MAX_DYNAMIC_SHARED_SIZE_BYTES, smem)
            except Exception as e:
                raise CudaUnavailable(f"{smem} bytes of shared memory per block are not available: {e}") from e
            self._max_smem_set[(method, dtype)] = smem
        return fn

    # -- the work ----------------------------------------------------------------------------------
    def launch(self, ptr: int, shape: Sequence[int], dtype, stream, hm_to_img: np.ndarray,
               method: str = "dark", blur_kernel: int = 11) -> None:
        """Launch the decoder on ``stream`` for the heatmaps at device address ``ptr`` (views in
        launches of at most MAX_VIEWS); the result stays in the device output buffer."""
        self._check_thread()
        cuda_build.check_method(method, blur_kernel)
        n, j, h, w = (int(v) for v in shape)
        dt = cuda_build.dtype_name(dtype)
        mats = np.asarray(hm_to_img, dtype=np.float64).reshape(n, 2, 3)
        self._ensure_output(max(n * j * 3, 1))
        elem = 4 if dt == "float32" else 2
        out_base = int(self._out_dev)
        for v0 in range(0, n, cuda_build.MAX_VIEWS):
            nv = min(cuda_build.MAX_VIEWS, n - v0)
            cfg = cuda_build.launch_config(method, nv, j, h, w, self.threads)
            params = cuda_build.pack_params(int(ptr) + v0 * j * h * w * elem, out_base + v0 * j * 3 * 4,
                                            mats[v0 : v0 + nv], j, h, w, blur_kernel)
            fn = self._function(method, dt, cfg.shared_bytes)
            fn.prepared_async_call(cfg.grid[:2], cfg.block, stream, params, shared_size=cfg.shared_bytes)

    def copy_out(self, n_values: int, stream) -> None:
        """Queue the copy of the first ``n_values`` results into pinned host memory."""
        self._check_thread()
        if n_values:
            self._cuda.memcpy_dtoh_async(self._out_host[:n_values], self._out_dev, stream)

    def enqueue(self, ptr: int, shape: Sequence[int], dtype, stream, hm_to_img: np.ndarray,
                method: str = "dark", blur_kernel: int = 11) -> None:
        """launch + copy_out on ``stream``; no host synchronisation."""
        self.launch(ptr, shape, dtype, stream, hm_to_img, method, blur_kernel)
        self.copy_out(int(shape[0]) * int(shape[1]) * 3, stream)

    def decode(self, ptr: int, shape: Sequence[int], dtype, stream, hm_to_img: np.ndarray,
               method: str = "dark", blur_kernel: int = 11) -> np.ndarray:
        """enqueue, then one stream synchronisation: float32 (N, J, 3) = (u, v, score)."""
        self.enqueue(ptr, shape, dtype, stream, hm_to_img, method, blur_kernel)
        n, j = int(shape[0]), int(shape[1])
        stream.synchronize()
        return self._out_host[: n * j * 3].reshape(n, j, 3).copy()

    def merge_flip(self, ptr: int, shape: Sequence[int], dtype, stream, convention: str = "dark") -> GpuHeatmaps:
        """Launch the flip-test merge on ``stream`` for the heatmaps (2n, J, H, W) at ``ptr``
        (views, then their mirrors): the n merged float32 maps, in this decoder's merge buffer
        (valid until its next merge), as GpuHeatmaps on the same stream. No synchronisation."""
        self._check_thread()
        dt = cuda_build.dtype_name(dtype)
        cuda_build.merge_shift(convention)
        out_shape = cuda_build.merge_output_shape(shape)
        cfg = cuda_build.merge_launch_config(shape, self.threads)
        nbytes = 4 * out_shape[0] * out_shape[1] * out_shape[2] * out_shape[3]
        if nbytes > self._merge_capacity:
            self._merge_dev = self._cuda.mem_alloc(nbytes)
            self._merge_capacity = nbytes
        out = int(self._merge_dev)
        params = cuda_build.pack_merge_params(int(ptr), out, shape, convention)
        self._merge_functions[dt].prepared_async_call(cfg.grid[:2], cfg.block, stream, params)
        return GpuHeatmaps(out, out_shape, np.dtype(np.float32), stream, self)

    def wrap(self, ptr: int, shape: Sequence[int], dtype, stream) -> GpuHeatmaps:
        """The engine's output buffer as heatmaps that ``decode_to_image`` decodes on the GPU."""
        return GpuHeatmaps(int(ptr), tuple(int(v) for v in shape), np.dtype(dtype), stream, self)



class CudaPreprocessor:
    """Preprocessing on the GPU: both views of a frame, from host memory straight into the engine's
    device input, on the engine's stream (``appliance/pose/cuda/preprocess.cuh``).

    Per frame (:meth:`enqueue`): the two uint8 BGR views (H, W, 3) are copied once into one pinned
    staging buffer (2, H, W, 3) -- the frame's only host copy --, uploaded by one asynchronous DMA
    into a device buffer of the same shape, and one launch writes float32 (N, 3, 384, 288) at
    ``dst_ptr`` (the engine's input binding): [left, right], or with the flip test [left, right,
    mirrored left, mirrored right], the layout of ``Preprocessor.batch``. No host batch exists and
    nothing waits: the stream orders upload -> kernel -> engine. The staging buffer is rewritten
    only once the previous frame's upload has completed (an event); the device buffers are
    allocated at the first frame of a size and reused.

    The kernel's arithmetic is OpenCV 5.1's warpAffine (INTER_LINEAR, constant border 0) and the
    CPU path's normalisation (tests/pose/test_cuda_preprocess_host.py: 0.0 apart on the host);
    ``agma bench preprocess --check`` measures it on the GPU against OpenCV. Created and called in
    the thread that owns the CUDA context (the inference thread), like the decoder whose module
    (one cubin) it launches from.
    """

    def __init__(self, kernels: CudaHeatmapDecoder, threads: int = cuda_build.DEFAULT_THREADS) -> None:
        kernels._check_thread()
        self._cuda = kernels._cuda
        self._owner = kernels._owner
        self.device_name = kernels.device_name
        self.threads = int(threads)
        self._fn = kernels.module.get_function(cuda_build.PREPROCESS_ENTRY_POINT)
        self._fn.prepare([f"{cuda_build.PRE_PARAMS_SIZE}s"])  # one by-value struct AgmaPreprocessParams
        self._shape: tuple[int, int, int] | None = None
        self._staging = None     # pinned host (2, H, W, 3) uint8
        self._views_dev = None   # device (2, H, W, 3) uint8
        self._uploaded = None    # event: the staging buffer's last upload has completed
        #: Buffers (re)allocated so far: one per new image size, then none (the bench reads it).
        self.allocations = 0

    def _ensure(self, shape: tuple[int, int, int]) -> None:
        if shape == self._shape:
            return
        cuda = self._cuda
        if self._uploaded is not None:
            self._uploaded.synchronize()
        self._staging = cuda.pagelocked_empty((2, *shape), np.uint8)
        self._views_dev = cuda.mem_alloc(self._staging.nbytes)
        self._uploaded = cuda.Event()
        self._shape = shape
        self.allocations += 2

    def enqueue(self, left: np.ndarray, right: np.ndarray, crops: Sequence, flip_test: bool, dst_ptr: int,
                stream) -> int:
        """Queue upload and kernel on ``stream``: float32 (N, 3, 384, 288) at ``dst_ptr``, N = 2 or 4
        (flip test). crops: the two views' Crops (their ``sampling_matrix``). Returns N."""
        if threading.get_ident() != self._owner:
            raise RuntimeError("CudaPreprocessor used from a thread that does not own its CUDA context")
        from appliance.pose.engine import INPUT_HEIGHT, INPUT_WIDTH  # noqa: PLC0415
        from appliance.pose.preprocess import NORM_OFFSET, NORM_SCALE  # noqa: PLC0415 - the CPU path's constants

        h, w = cuda_build.check_views((left, right))
        if len(crops) != 2:
            raise ValueError(f"one crop per view, got {len(crops)}")
        self._ensure((h, w, 3))
        self._uploaded.synchronize()  # the previous frame's DMA has read the staging buffer
        np.copyto(self._staging[0], left)
        np.copyto(self._staging[1], right)
        self._cuda.memcpy_htod_async(self._views_dev, self._staging, stream)
        self._uploaded.record(stream)
        base = int(self._views_dev)
        params, n_out = cuda_build.pack_views_preprocess(
            [base, base + h * w * 3], (w, h, w * 3), [c.sampling_matrix for c in crops], flip_test, int(dst_ptr),
            NORM_SCALE, NORM_OFFSET)
        cfg = cuda_build.preprocess_launch_config((INPUT_WIDTH, INPUT_HEIGHT), n_out, self.threads)
        _log_once("preprocess", "preprocessing: CUDA kernel into the engine's input (%s)", self.device_name)
        self._fn.prepared_async_call(cfg.grid[:2], cfg.block, stream, params)
        return n_out


@dataclass(frozen=True)
class GpuHeatmaps:
    """Heatmaps (N, J, H, W) float32/float16 in device memory, written on ``stream``."""

    ptr: int
    shape: tuple[int, int, int, int]
    dtype: np.dtype
    stream: Any
    decoder: CudaHeatmapDecoder

    def decode_to_image(self, crops, method: str = "dark", blur_kernel: int = 11) -> tuple[np.ndarray, np.ndarray]:
        """(uv float32 (N, J, 2) image px, scores float32 (N, J)); the contract of
        ``appliance.pose.decode.decode_to_image``. One Crop (all views) or one per view."""
        from appliance.pose.decode import crop_matrices  # noqa: PLC0415 - avoid a cycle at import

        n, _, h, w = self.shape
        mats = crop_matrices(crops, n, (w, h))
        _log_once("decode", "decode_to_image: CUDA kernel on the engine's buffer (%s, %s)",
                  self.decoder.device_name, self.dtype)
        out = self.decoder.decode(self.ptr, self.shape, self.dtype, self.stream, mats, method, blur_kernel)
        return out[..., :2].copy(), out[..., 2].copy()

    def merge_flip(self, convention: str = "dark") -> GpuHeatmaps:
        """The flip test on the device: these 2n maps (views, then their mirrors) -> n float32 maps,
        each view averaged with its mirror flipped back (``Preprocessor.merge`` exactly, for the
        model's pixel ``convention``), launched on the same stream; no synchronisation. The result
        lives in the decoder's merge buffer until its next merge."""
        _log_once("merge", "flip-test merge: CUDA kernel on the engine's buffer (%s, %s)",
                  self.decoder.device_name, self.dtype)
        return self.decoder.merge_flip(self.ptr, self.shape, self.dtype, self.stream, convention)

    def to_host(self) -> np.ndarray:
        """A host copy (synchronises the stream): for checks, never in the pipeline."""
        cuda = self.decoder._cuda
        host = cuda.pagelocked_empty(self.shape, self.dtype)
        cuda.memcpy_dtoh_async(host, self.ptr, self.stream)
        self.stream.synchronize()
        return np.array(host)


class GpuThread:
    """A thread that owns a CUDA context, a stream and a CudaHeatmapDecoder; ``call(fn)`` runs
    ``fn(self)`` there and returns its result. For tools, tests and the bench; in the pipeline
    the inference thread plays this role."""

    def __init__(self, device: int = 0, cache_dir: str | None = None, toolchain: str = "auto") -> None:
        self._queue: queue.Queue = queue.Queue()
        self._ready: concurrent.futures.Future = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, args=(device, cache_dir, toolchain),
                                        name="agma-gpu", daemon=True)
        self._thread.start()
        self._ready.result()  # raises what the thread raised (CudaUnavailable, CudaBuildError, ...)

    def _run(self, device: int, cache_dir: str | None, toolchain: str) -> None:
        ctx = None
        try:
            cuda = _driver()
            ctx = cuda.Device(device).make_context()
            self.cuda = cuda
            self.stream = cuda.Stream()
            self.decoder = CudaHeatmapDecoder(cache_dir, toolchain)
        except BaseException as e:
            if ctx is not None:
                ctx.pop()
                ctx.detach()
            self._ready.set_exception(e)
            return
        self._ready.set_result(None)
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    break
                fn, fut = item
                if fut.set_running_or_notify_cancel():
                    try:
                        fut.set_result(fn(self))
                    except BaseException as e:
                        fut.set_exception(e)
        finally:
            self.decoder = None
            ctx.pop()
            ctx.detach()

    def call(self, fn: Callable[[GpuThread], Any]) -> Any:
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((fn, fut))
        return fut.result()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def __enter__(self) -> GpuThread:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
