"""The CUDA decoder's own source, the flip-test merge's and preprocessing's (preprocess.cuh), built
for the host: ctypes over the host-shim library.

``appliance/pose/cuda/host/decode_host.cpp`` includes ``cuda_host_shim.h`` and then the very
``decode_heatmaps.cu`` the GPU runs, and launches it with the GPU path's launch configuration
(:func:`appliance.pose.cuda.build.launch_config`): one host thread per CUDA thread, real
barriers, the same shared-memory layout. It exists to check the kernel's arithmetic on every
CI run without a GPU (tests/pose/test_cuda_host_parity.py, test_cuda_flip_merge_host.py); it is
far too slow for the pipeline (hundreds of OS threads per launch).

The library is built with g++ on first use into ``<cache>/host/`` (``$AGMA_CACHE_DIR`` or
``~/.cache/agma``), named by a hash of the sources and the compiler, so an edit rebuilds it.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from appliance.pose.cuda import build as cuda_build
from appliance.pose.cuda.build import CudaBuildError

HOST_DIR = cuda_build.KERNEL_DIR / "host"
HOST_SOURCE = HOST_DIR / "decode_host.cpp"
CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-shared", "-pthread", "-ffp-contract=off", "-fno-fast-math",
            "-fno-strict-aliasing")

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def _compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
    if not cxx:
        raise CudaBuildError("no C++ compiler (g++) found to build the CUDA host shim; apt-get install g++")
    return cxx


def _digest(cxx: str) -> str:
    files = sorted(list(cuda_build.KERNEL_DIR.glob("*.cu")) + list(cuda_build.KERNEL_DIR.glob("*.cuh"))
                   + list(HOST_DIR.glob("*.h")) + list(HOST_DIR.glob("*.cpp")))
    ver = subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout
    return cuda_build.files_digest(files, [ver, " ".join(CXXFLAGS)])[:16]


def library_path(cache_dir: str | os.PathLike | None = None) -> Path:
    """Build (if needed) and return the host-shim shared library."""
    cxx = _compiler()
    base = Path(cache_dir) if cache_dir is not None else cuda_build.default_cache_dir().parent / "host"
    path = base / f"libagma_decode_host-{_digest(cxx)}.so"
    if path.is_file():
        return path
    base.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".so", dir=base)
    os.close(fd)
    cmd = [cxx, *CXXFLAGS, "-o", tmp, str(HOST_SOURCE)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        os.unlink(tmp)
        raise CudaBuildError(f"building the CUDA host shim failed: {' '.join(cmd)}\n{proc.stderr}")
    os.replace(tmp, path)  # atomic: a concurrent build just replaces it with the same thing
    return path


def load_library(cache_dir: str | os.PathLike | None = None) -> ctypes.CDLL:
    global _lib
    with _lock:
        if _lib is None:
            lib = ctypes.CDLL(str(library_path(cache_dir)))
            lib.agma_host_decode.restype = ctypes.c_int
            lib.agma_host_decode.argtypes = [
                ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_ulonglong, ctypes.c_void_p,
            ]
            lib.agma_host_launch_params.restype = ctypes.c_int
            lib.agma_host_launch_params.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                                    ctypes.c_ulonglong]
            lib.agma_host_launch_merge_params.restype = ctypes.c_int
            lib.agma_host_launch_merge_params.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                                          ctypes.c_int]
            lib.agma_host_launch_preprocess_params.restype = ctypes.c_int
            lib.agma_host_launch_preprocess_params.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                                                               ctypes.c_int]
            lib.agma_host_float_to_half_array.restype = None
            lib.agma_host_float_to_half_array.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_ulonglong]
            lib.agma_host_last_error.restype = ctypes.c_char_p
            lib.agma_host_half_to_float.restype = ctypes.c_float
            lib.agma_host_half_to_float.argtypes = [ctypes.c_ushort]
            lib.agma_host_shared_bytes.restype = ctypes.c_ulonglong
            lib.agma_host_shared_bytes.argtypes = [ctypes.c_int] * 4
            _lib = lib
        return _lib


def decode_raw(heatmaps: np.ndarray, hm_to_img: np.ndarray, method: str = "dark", blur_kernel: int = 11,
               threads: int = cuda_build.DEFAULT_THREADS) -> np.ndarray:
    """Run the kernel on the host: heatmaps (N, J, H, W) float32/float16, hm_to_img (N, 2, 3)
    -> float32 (N, J, 3) = (u, v, score), exactly what the GPU writes."""
    cuda_build.check_method(method, blur_kernel)
    hm = np.ascontiguousarray(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (N, J, H, W), got shape {hm.shape}")
    dt = cuda_build.dtype_name(hm.dtype)
    n, j, h, w = hm.shape
    mats = np.ascontiguousarray(np.asarray(hm_to_img, dtype=np.float64).reshape(n, 6))
    out = np.empty((n, j, 3), dtype=np.float32)
    if n == 0:
        return out
    cfg = cuda_build.launch_config(method, min(n, cuda_build.MAX_VIEWS), j, h, w, threads)
    lib = load_library()
    rc = lib.agma_host_decode(
        hm.ctypes.data, 0 if dt == "float32" else 1, 0 if method == "dark" else 1, n, j, h, w,
        mats.ctypes.data, int(blur_kernel), cfg.block[0], cfg.shared_bytes, out.ctypes.data,
    )
    if rc != 0:
        raise CudaBuildError("host decode failed: " + lib.agma_host_last_error().decode())
    return out


def merge_flip(heatmaps: np.ndarray, convention: str = "dark",
               threads: int = cuda_build.DEFAULT_THREADS) -> np.ndarray:
    """Run the flip-test merge kernel on the host: heatmaps (2n, J, H, W) float32/float16 ->
    float32 (n, J, H, W), exactly what the GPU writes. The parameters are packed and the launch
    configured by the GPU path's own functions (cuda_build.pack_merge_params, merge_launch_config)."""
    hm = np.ascontiguousarray(heatmaps)
    dt = cuda_build.dtype_name(hm.dtype)
    n, j, h, w = cuda_build.merge_output_shape(hm.shape)
    out = np.empty((n, j, h, w), dtype=np.float32)
    cfg = cuda_build.merge_launch_config(hm.shape, threads)
    params = cuda_build.pack_merge_params(hm.ctypes.data, out.ctypes.data, hm.shape, convention)
    lib = load_library()
    rc = lib.agma_host_launch_merge_params(cuda_build.MERGE_ENTRY_POINTS[dt].encode(), params, cfg.grid[0],
                                           cfg.block[0])
    if rc != 0:
        raise CudaBuildError("host merge failed: " + lib.agma_host_last_error().decode())
    return out


def preprocess(images: Sequence[np.ndarray], crops: Sequence, flip_test: bool = False,
               threads: int = cuda_build.DEFAULT_THREADS) -> np.ndarray:
    """Run the preprocessing kernel on the host: one uint8 BGR view (H, W, 3) per crop ->
    float32 (N, 3, 384, 288), N = len(crops) (twice that with the flip test: the mirrored crops
    appended), exactly what the GPU writes into the engine's input. The parameters are packed and
    the launch configured by the GPU path's own functions (cuda_build.pack_views_preprocess,
    preprocess_launch_config); the result is Preprocessor.batch's, bit for bit where OpenCV's
    warp is the one preprocess.cuh reproduces."""
    from appliance.pose.engine import INPUT_HEIGHT, INPUT_WIDTH  # noqa: PLC0415
    from appliance.pose.preprocess import NORM_OFFSET, NORM_SCALE  # noqa: PLC0415 - the CPU path's constants, one home

    views = [np.asarray(im) for im in images]
    if len(views) != len(crops) or not views:
        raise ValueError("one view per crop")
    h, w = cuda_build.check_views(views)
    # One buffer holds every view, row-contiguous: each view at its own offset, one stride.
    stack = np.ascontiguousarray(np.stack(views))
    per_view = h * w * 3
    srcs = [stack.ctypes.data + v * per_view for v in range(len(views))]
    n_out = len(views) * (2 if flip_test else 1)
    out = np.empty((n_out, 3, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
    params, _ = cuda_build.pack_views_preprocess(srcs, (w, h, w * 3), [c.sampling_matrix for c in crops], flip_test,
                                                 out.ctypes.data, NORM_SCALE, NORM_OFFSET)
    cfg = cuda_build.preprocess_launch_config((INPUT_WIDTH, INPUT_HEIGHT), n_out, threads)
    lib = load_library()
    rc = lib.agma_host_launch_preprocess_params(params, cfg.grid[0], cfg.grid[1], cfg.block[0])
    if rc != 0:
        raise CudaBuildError("host preprocessing failed: " + lib.agma_host_last_error().decode())
    return out


def identity_affines(n: int) -> np.ndarray:
    """(n, 2, 3) identity maps: the kernel's output is then in heatmap px."""
    return np.tile(np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), (n, 1, 1))


def decode_heatmaps(heatmaps: np.ndarray, method: str = "dark", blur_kernel: int = 11,
                    threads: int = cuda_build.DEFAULT_THREADS) -> tuple[np.ndarray, np.ndarray]:
    """Same contract as ``appliance.pose.decode.decode_heatmaps`` (coords in heatmap px)."""
    hm = np.asarray(heatmaps)
    out = decode_raw(hm, identity_affines(hm.shape[0]), method, blur_kernel, threads)
    return out[..., :2].copy(), out[..., 2].copy()


def decode_to_image(heatmaps: np.ndarray, crops: Sequence, method: str = "dark", blur_kernel: int = 11,
                    threads: int = cuda_build.DEFAULT_THREADS) -> tuple[np.ndarray, np.ndarray]:
    """Same contract as ``appliance.pose.decode.decode_to_image``: (uv (N, J, 2), scores (N, J))."""
    from appliance.pose.decode import crop_matrices  # noqa: PLC0415 - cv2 only where decoded to image

    hm = np.asarray(heatmaps)
    out = decode_raw(hm, crop_matrices(crops, hm.shape[0]), method, blur_kernel, threads)
    return out[..., :2].copy(), out[..., 2].copy()
