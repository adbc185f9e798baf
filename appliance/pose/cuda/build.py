"""Compiling the CUDA decoder (``appliance/pose/cuda/*.cu``) for the box, and its launch contract.

Why compile on the box: JetPack 6.0 ships CUDA 12.2, whose driver cannot load PTX from a newer
toolkit (PTX ISA 9.0 from CUDA 13 > 8.2). So the box compiles the kernels itself, at install
or first start, for its own SM, and caches the cubin by CUDA version, SM and source hash.
CI proves that the same sources compile for the box with CUDA 12.2's NVRTC and ptxas from
PyPI (``nvidia-cuda-nvrtc-cu12==12.2.140``, ``nvidia-cuda-nvcc-cu12==12.2.140``) to PTX
<= 8.2 and an sm_87 cubin, and with the development machine's nvcc 13.

Three toolchains, none imported at module import time:

- NVRTC through ctypes on ``libnvrtc.so`` (:class:`Nvrtc`): the box's own CUDA (JetPack ships
  libnvrtc), or the PyPI wheel's. ``compile(..., arch="sm_87")`` gives a cubin directly;
  ``arch="compute_87"`` gives PTX for ptxas.
- ``ptxas`` (:func:`ptxas_cubin`): PTX -> cubin.
- ``nvcc -cubin`` (:func:`nvcc_cubin`).

Also here, free of pycuda so that the host check uses exactly what the GPU path uses: the
kernel names, :func:`launch_config` and :func:`pack_params` (the by-value kernel parameter) of
the decoder, and :func:`merge_launch_config` and :func:`pack_merge_params` of the flip-test
merge (``merge_flip.cuh``, in the same translation unit), and :func:`preprocess_launch_config`
and :func:`pack_preprocess_params` of preprocessing (``preprocess.cuh``, the same translation unit).

Command line (install step): ``agma engine kernels [--sm 87] [--cache-dir D]`` (appliance.commands.engine)
prints one JSON line with the cubin path, the toolchain and the CUDA version.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import hashlib
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from appliance.errors import AgmaError
from appliance.files import atomic_write
from appliance.joints import FLIP_PAIRS
from appliance.pose.decoders import DECODER_NAMES

#: Folder of the device sources.
KERNEL_DIR = Path(__file__).resolve().parent
#: The one translation unit of the decoder (it includes decode_heatmaps.cuh).
KERNEL_SOURCE = KERNEL_DIR / "decode_heatmaps.cu"

#: extern "C" entry points, by (method, input dtype name).
ENTRY_POINTS = {
    ("dark", "float32"): "agma_decode_dark_f32",
    ("dark", "float16"): "agma_decode_dark_f16",
    ("standard", "float32"): "agma_decode_standard_f32",
    ("standard", "float16"): "agma_decode_standard_f16",
}
METHODS = DECODER_NAMES  # "dark", "standard" (appliance.pose.decoders); ENTRY_POINTS has each
#: Must match decode_heatmaps.cuh (checked by the host-shim tests).
MAX_VIEWS = 8
MAX_BLUR_KERNEL = 31
MAX_THREADS = 1024
#: Threads per block (one block per heatmap). 256: 27 pixels per thread for 96x72 maps.
DEFAULT_THREADS = 256
#: struct AgmaDecodeParams: heatmaps, out (u64), hm_to_img [8][6] double, 6 x int32.
PARAMS_FORMAT = "<QQ" + f"{MAX_VIEWS * 6}d" + "6i"
PARAMS_SIZE = struct.calcsize(PARAMS_FORMAT)  # 424
#: extern "C" entry points of the flip-test merge, by input dtype name (the output is float32).
MERGE_ENTRY_POINTS = {
    "float32": "agma_merge_flip_f32",
    "float16": "agma_merge_flip_f16",
}
#: The entry point of preprocessing (preprocess.cuh): uint8 BGR views -> float32 network input.
PREPROCESS_ENTRY_POINT = "agma_preprocess_bgr8_f32"
#: Must match preprocess.cuh (checked by the host-shim tests): outputs per launch.
PRE_MAX_OUT = 8
#: struct AgmaPreprocessParams: src[8], out (u64), input_to_image [8][6] double, scale[3] and
#: offset[3] float, mirror[8], n_out, out_width, out_height, src_width, src_height, src_stride,
#: reserved[2] (int32).
PRE_PARAMS_FORMAT = "<8QQ48d6f8i8i"
PRE_PARAMS_SIZE = struct.calcsize(PRE_PARAMS_FORMAT)  # 544
#: Every entry point of the translation unit.
ALL_ENTRY_POINTS = tuple(ENTRY_POINTS.values()) + tuple(MERGE_ENTRY_POINTS.values()) + (PREPROCESS_ENTRY_POINT,)
#: The heatmap shift of each pixel convention's flip test (appliance.pose.crop.flip_back):
#: "dark" none, "hrnet" one column to the right.
MERGE_SHIFT = {"dark": 0, "hrnet": 1}
#: Must match merge_flip.cuh (checked by the host-shim tests).
MERGE_MAX_JOINTS = 32
#: struct AgmaMergeParams: heatmaps, out (u64), n_views, n_joints, height, width, shift, reserved,
#: flip_perm[32] (int32).
MERGE_PARAMS_FORMAT = "<QQ6i" + f"{MERGE_MAX_JOINTS}i"
MERGE_PARAMS_SIZE = struct.calcsize(MERGE_PARAMS_FORMAT)  # 168
#: PTX ISA that CUDA 12.2's driver (JetPack 6.0) accepts at most.
MAX_PTX_VERSION_CUDA_12_2 = (8, 2)
#: The PyPI pins of CI's CUDA 12.2 toolchain.
PIP_PINS = ("nvidia-cuda-nvrtc-cu12==12.2.140", "nvidia-cuda-nvcc-cu12==12.2.140")


class CudaBuildError(AgmaError):
    """A toolchain is missing or a compilation failed (the message says which and how to fix)."""


# ---------------------------------------------------------------------------------------------
# launch contract (shared by the pycuda path and the host shim)
# ---------------------------------------------------------------------------------------------
def dtype_name(dtype) -> str:
    dt = np.dtype(dtype)
    if dt == np.float32:
        return "float32"
    if dt == np.float16:
        return "float16"
    raise ValueError(f"the CUDA decoder reads float32 or float16 heatmaps, got {dt}")


def check_method(method: str, blur_kernel: int) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown decode method {method!r}; expected one of {METHODS}")
    if method == "dark" and (
        int(blur_kernel) != blur_kernel or not 3 <= blur_kernel <= MAX_BLUR_KERNEL or blur_kernel % 2 != 1
    ):
        raise ValueError(f"blur_kernel must be an odd integer in 3..{MAX_BLUR_KERNEL}, got {blur_kernel!r}")


def shared_bytes(method: str, height: int, width: int, threads: int) -> int:
    """Dynamic shared memory of one block: AGMA_SHARED_BYTES in decode_heatmaps.cuh."""
    words = 2 * (32 + 32 + 176 + 32 + 32) + 32 + 2 * threads + (height * width if method == "dark" else 0)
    return 4 * words


@dataclass(frozen=True)
class LaunchConfig:
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int


def launch_config(method: str, n_views: int, n_joints: int, height: int, width: int,
                  threads: int = DEFAULT_THREADS) -> LaunchConfig:
    """One block per heatmap of a launch of ``n_views`` (<= MAX_VIEWS) views."""
    if not 1 <= n_views <= MAX_VIEWS:
        raise ValueError(f"one launch decodes 1..{MAX_VIEWS} views, got {n_views}")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads per block must be in 1..{MAX_THREADS}, got {threads}")
    if n_joints < 1 or height < 1 or width < 1:
        raise ValueError(f"bad heatmap shape: joints={n_joints}, {height}x{width}")
    return LaunchConfig(
        grid=(n_views * n_joints, 1, 1),
        block=(threads, 1, 1),
        shared_bytes=shared_bytes(method, height, width, threads),
    )


def pack_params(heatmaps_ptr: int, out_ptr: int, hm_to_img: np.ndarray, n_joints: int,
                height: int, width: int, blur_kernel: int) -> bytes:
    """struct AgmaDecodeParams for one launch; ``hm_to_img`` (n_views, 2, 3) float64."""
    mats = np.asarray(hm_to_img, dtype=np.float64).reshape(-1, 6)
    n_views = mats.shape[0]
    if not 1 <= n_views <= MAX_VIEWS:
        raise ValueError(f"one launch decodes 1..{MAX_VIEWS} views, got {n_views}")
    padded = np.zeros((MAX_VIEWS, 6), dtype=np.float64)
    padded[:n_views] = mats
    return struct.pack(PARAMS_FORMAT, int(heatmaps_ptr), int(out_ptr), *padded.ravel().tolist(),
                       n_views, int(n_joints), int(height), int(width), int(blur_kernel), 0)


def flip_permutation(n_joints: int) -> list[int]:
    """Joint j of a flipped-back map is joint perm[j] of the mirror's: FLIP_PAIRS swapped where
    both joints exist, exactly as appliance.pose.crop.flip_back builds it."""
    perm = list(range(int(n_joints)))
    for a, b in FLIP_PAIRS:
        if a < n_joints and b < n_joints:
            perm[a], perm[b] = b, a
    return perm


def merge_shift(convention: str) -> int:
    if convention not in MERGE_SHIFT:
        raise ValueError(f"unknown pixel convention {convention!r}; expected one of {tuple(MERGE_SHIFT)}")
    return MERGE_SHIFT[convention]


def merge_output_shape(shape: Sequence[int]) -> tuple[int, int, int, int]:
    """(2n, J, H, W) -> (n, J, H, W); ValueError for what the merge kernel cannot take."""
    if len(shape) != 4:
        raise ValueError(f"heatmaps must be (N, J, H, W), got shape {tuple(shape)}")
    n2, j, h, w = (int(v) for v in shape)
    if n2 < 2 or n2 % 2:
        raise ValueError(f"the flip-test merge needs an even batch of 2 or more (views, then their mirrors), got {n2}")
    if not 1 <= j <= MERGE_MAX_JOINTS:
        raise ValueError(f"the flip-test merge takes 1..{MERGE_MAX_JOINTS} joints, got {j}")
    if h < 1 or w < 1:
        raise ValueError(f"bad heatmap shape: {h}x{w}")
    if n2 * j * h * w >= 2**31:
        raise ValueError(f"heatmaps of {n2 * j * h * w} elements: the merge kernel indexes below 2^31")
    return n2 // 2, j, h, w


def merge_launch_config(shape: Sequence[int], threads: int = DEFAULT_THREADS) -> LaunchConfig:
    """One thread per output element of merging heatmaps of ``shape`` (2n, J, H, W)."""
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads per block must be in 1..{MAX_THREADS}, got {threads}")
    n, j, h, w = merge_output_shape(shape)
    total = n * j * h * w
    return LaunchConfig(grid=(-(-total // threads), 1, 1), block=(threads, 1, 1), shared_bytes=0)


def pack_merge_params(heatmaps_ptr: int, out_ptr: int, shape: Sequence[int], convention: str) -> bytes:
    """struct AgmaMergeParams for merging heatmaps of ``shape`` (2n, J, H, W) with ``convention``."""
    n, j, h, w = merge_output_shape(shape)
    perm = flip_permutation(j) + [0] * (MERGE_MAX_JOINTS - j)
    return struct.pack(MERGE_PARAMS_FORMAT, int(heatmaps_ptr), int(out_ptr), n, j, h, w,
                       merge_shift(convention), 0, *perm)


def preprocess_launch_config(out_wh: Sequence[int], n_out: int, threads: int = DEFAULT_THREADS) -> LaunchConfig:
    """One thread per output pixel of ``n_out`` (1..PRE_MAX_OUT) outputs of (w, h) px: grid.y is the output."""
    if not 1 <= n_out <= PRE_MAX_OUT:
        raise ValueError(f"one preprocessing launch writes 1..{PRE_MAX_OUT} outputs, got {n_out}")
    if not 1 <= threads <= MAX_THREADS:
        raise ValueError(f"threads per block must be in 1..{MAX_THREADS}, got {threads}")
    w, h = (int(v) for v in out_wh)
    if w < 1 or h < 1:
        raise ValueError(f"bad output size {w}x{h}")
    return LaunchConfig(grid=(-(-(w * h) // threads), n_out, 1), block=(threads, 1, 1), shared_bytes=0)


def pack_preprocess_params(src_ptrs: Sequence[int], out_ptr: int, input_to_image: np.ndarray,
                           mirror: Sequence[bool], src_whs: tuple[int, int, int], out_wh: Sequence[int],
                           scale: Sequence[float], offset: Sequence[float]) -> bytes:
    """struct AgmaPreprocessParams for one launch.

    src_ptrs: per output, the address of its source view (uint8 BGR HWC); input_to_image:
    (n_out, 2, 3) float64, each output's Crop.sampling_matrix; mirror: per output, mirrored
    left-right (the flip test's second half); src_whs: (width, height, row stride in bytes) of
    every source; out_wh: (288, 384); scale/offset: per output channel R, G, B, float32.
    """
    mats = np.asarray(input_to_image, dtype=np.float64).reshape(-1, 6)
    n = mats.shape[0]
    if not 1 <= n <= PRE_MAX_OUT or len(src_ptrs) != n or len(mirror) != n:
        raise ValueError(f"one launch writes 1..{PRE_MAX_OUT} outputs, each with a source, a matrix and a mirror flag")
    sw, sh, stride = (int(v) for v in src_whs)
    if sw < 1 or sh < 1 or stride < 3 * sw:
        raise ValueError(f"bad source size {sw}x{sh} with a stride of {stride} bytes")
    ptrs = [int(p) for p in src_ptrs] + [0] * (PRE_MAX_OUT - n)
    padded = np.zeros((PRE_MAX_OUT, 6), dtype=np.float64)
    padded[:n] = mats
    flags = [1 if m else 0 for m in mirror] + [0] * (PRE_MAX_OUT - n)
    ow, oh = (int(v) for v in out_wh)
    return struct.pack(PRE_PARAMS_FORMAT, *ptrs, int(out_ptr), *padded.ravel().tolist(),
                       *(float(v) for v in scale), *(float(v) for v in offset), *flags,
                       n, ow, oh, sw, sh, stride, 0, 0)


def check_views(views: Sequence[np.ndarray]) -> tuple[int, int]:
    """(height, width) of preprocessing's source views: uint8 (H, W, 3) BGR, all of one size;
    ValueError otherwise (the host run and the GPU path both check with it)."""
    if not views:
        raise ValueError("no views")
    shape = tuple(np.shape(views[0]))
    for im in views:
        if im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3 or tuple(im.shape) != shape:
            raise ValueError(f"views must be uint8 (H, W, 3) BGR of one size, got {im.dtype} {im.shape}")
    return shape[0], shape[1]


def pack_views_preprocess(view_ptrs: Sequence[int], src_whs: tuple[int, int, int], sampling_matrices: np.ndarray,
                          flip_test: bool, out_ptr: int, scale: Sequence[float],
                          offset: Sequence[float]) -> tuple[bytes, int]:
    """The engine's batch layout in one launch: output v reads view v through its crop's
    ``sampling_matrix``; with the flip test the mirrored views follow ([views, mirrored views], as
    Preprocessor.batch). -> (AgmaPreprocessParams, number of outputs). The host run
    (host_decoder.preprocess) and the GPU path (decoder.CudaPreprocessor) both pack with it."""
    from appliance.pose.engine import INPUT_HEIGHT, INPUT_WIDTH  # noqa: PLC0415 - the model contract's input

    mats = [np.asarray(m, dtype=np.float64).reshape(2, 3) for m in sampling_matrices]
    ptrs = [int(p) for p in view_ptrs]
    if len(mats) != len(ptrs) or not ptrs:
        raise ValueError("one sampling matrix per view")
    mirror = [False] * len(ptrs)
    if flip_test:
        mats, ptrs, mirror = mats + mats, ptrs + ptrs, mirror + [True] * len(mirror)
    params = pack_preprocess_params(ptrs, out_ptr, np.stack(mats), mirror, src_whs, (INPUT_WIDTH, INPUT_HEIGHT),
                                    scale, offset)
    return params, len(ptrs)


# ---------------------------------------------------------------------------------------------
# sources and PTX
# ---------------------------------------------------------------------------------------------
def kernel_sources() -> list[Path]:
    """Every .cu file of the decoder (each compiles alone)."""
    return sorted(KERNEL_DIR.glob("*.cu"))


def source_digest(extra: Sequence[str] = ()) -> str:
    """sha256 over the device sources (.cu and .cuh) and ``extra`` strings (options)."""
    return files_digest(sorted(list(KERNEL_DIR.glob("*.cu")) + list(KERNEL_DIR.glob("*.cuh"))), extra)


def files_digest(files: Sequence[Path], extra: Sequence[str] = ()) -> str:
    """sha256 over ``files`` (name and content of each, in order) and ``extra`` strings."""
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    for e in extra:
        h.update(e.encode())
        h.update(b"\0")
    return h.hexdigest()


_PTX_VERSION = re.compile(r"^\s*\.version\s+(\d+)\.(\d+)", re.MULTILINE)
_PTX_TARGET = re.compile(r"^\s*\.target\s+(\S+)", re.MULTILINE)


def ptx_version(ptx: str | bytes) -> tuple[int, int]:
    """The PTX ISA version of a PTX text (its ``.version`` line)."""
    text = ptx.decode("utf-8", "replace") if isinstance(ptx, bytes) else ptx
    m = _PTX_VERSION.search(text)
    if not m:
        raise CudaBuildError("no .version line in the PTX")
    return int(m.group(1)), int(m.group(2))


def ptx_target(ptx: str | bytes) -> str:
    text = ptx.decode("utf-8", "replace") if isinstance(ptx, bytes) else ptx
    m = _PTX_TARGET.search(text)
    if not m:
        raise CudaBuildError("no .target line in the PTX")
    return m.group(1).rstrip(",")


def is_cubin(data: bytes) -> bool:
    """An ELF image (what ptxas, nvcc -cubin and NVRTC's CUBIN give)."""
    return data[:4] == b"\x7fELF"


# ---------------------------------------------------------------------------------------------
# NVRTC through ctypes
# ---------------------------------------------------------------------------------------------
def _pip_package_dir(package: str) -> Path | None:
    """Folder of an installed ``nvidia.<package>`` wheel (e.g. cuda_nvrtc), without importing CUDA."""
    for base in sys.path:
        cand = Path(base or ".") / "nvidia" / package
        if cand.is_dir():
            return cand
    return None


def nvrtc_candidates() -> list[Path]:
    """Where libnvrtc may be, in order: $AGMA_NVRTC, $CUDA_HOME/$CUDA_PATH, /usr/local/cuda (the
    box's own CUDA: JetPack), the loader's search path, and last the PyPI wheel (CI)."""
    out: list[Path] = []
    env = os.environ.get("AGMA_NVRTC")
    if env:
        out.append(Path(env))
    for root in (os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"), "/usr/local/cuda"):
        if root:
            for sub in ("lib64", "lib", "targets/aarch64-linux/lib", "targets/x86_64-linux/lib"):
                for name in sorted(glob.glob(os.path.join(root, sub, "libnvrtc.so*"))):
                    if "builtins" not in name and "alt" not in name:
                        out.append(Path(name))
    found = ctypes.util.find_library("nvrtc")
    if found:
        out.append(Path(found))
    pip_dir = _pip_package_dir("cuda_nvrtc")
    if pip_dir is not None:
        out.extend(sorted((pip_dir / "lib").glob("libnvrtc.so*")))
    seen: set[str] = set()
    uniq = []
    for p in out:
        if str(p) not in seen:
            seen.add(str(p))
            uniq.append(p)
    return uniq


@contextlib.contextmanager
def _thread_locale_kept():
    """NVRTC 12.2 switches the calling thread's locale (uselocale) to "C" and leaves it so:
    afterwards Python's preferred encoding is ASCII and every text file or pipe opened without
    an explicit encoding breaks. Put the thread's locale back as it was."""
    libc = ctypes.CDLL(None)
    libc.uselocale.restype = ctypes.c_void_p
    libc.uselocale.argtypes = [ctypes.c_void_p]
    saved = libc.uselocale(None)  # NULL: query the current one
    try:
        yield
    finally:
        libc.uselocale(saved)


class Nvrtc:
    """NVRTC (libnvrtc.so) through ctypes: CUDA C++ -> PTX or cubin, with no CUDA header."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        candidates = [Path(path)] if path is not None else nvrtc_candidates()
        errors = []
        self.lib = None
        for cand in candidates:
            try:
                self.lib = ctypes.CDLL(str(cand))
                self.path = Path(cand)
                break
            except OSError as e:
                errors.append(f"{cand}: {e}")
        if self.lib is None:
            raise CudaBuildError(
                "libnvrtc not found (tried: " + ("; ".join(errors) or "nothing on this machine")
                + "). On the box it comes with JetPack's CUDA; for CI: pip install " + " ".join(PIP_PINS)
            )
        lib = self.lib
        P = ctypes.c_void_p
        lib.nvrtcVersion.argtypes = [ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_int)]
        lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        lib.nvrtcGetErrorString.argtypes = [ctypes.c_int]
        lib.nvrtcCreateProgram.argtypes = [ctypes.POINTER(P), ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int,
                                           ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_char_p)]
        lib.nvrtcCompileProgram.argtypes = [P, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        lib.nvrtcDestroyProgram.argtypes = [ctypes.POINTER(P)]
        for name in ("nvrtcGetProgramLogSize", "nvrtcGetPTXSize", "nvrtcGetCUBINSize"):
            getattr(lib, name).argtypes = [P, ctypes.POINTER(ctypes.c_size_t)]
        for name in ("nvrtcGetProgramLog", "nvrtcGetPTX", "nvrtcGetCUBIN"):
            getattr(lib, name).argtypes = [P, ctypes.c_char_p]

    def _check(self, rc: int, what: str, log: str = "") -> None:
        if rc != 0:
            msg = self.lib.nvrtcGetErrorString(rc).decode()
            raise CudaBuildError(f"NVRTC {what} failed: {msg}" + (f"\n{log}" if log else ""))

    def version(self) -> tuple[int, int]:
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        return major.value, minor.value

    def compile(self, source: Path, arch: str, include_dirs: Sequence[str | os.PathLike] = (),
                options: Sequence[str] = ()) -> tuple[bytes, str]:
        """Compile ``source`` for ``arch``: "compute_XY" -> PTX text (bytes), "sm_XY" -> cubin.

        The source's folder is always an include dir. Returns (image, compiler log).
        """
        source = Path(source)
        src = source.read_bytes()
        opts = [f"--gpu-architecture={arch}", "-std=c++17", f"-I{source.parent}"]
        opts += [f"-I{d}" for d in include_dirs] + list(options)
        with _thread_locale_kept():
            return self._compile(source, src, arch, opts)

    def _compile(self, source: Path, src: bytes, arch: str, opts: list[str]) -> tuple[bytes, str]:
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), src, source.name.encode(), 0, None, None),
                    "nvrtcCreateProgram")
        try:
            c_opts = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
            rc = self.lib.nvrtcCompileProgram(prog, len(opts), c_opts)
            size = ctypes.c_size_t()
            self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
            buf = ctypes.create_string_buffer(max(size.value, 1))
            self.lib.nvrtcGetProgramLog(prog, buf)
            log = buf.value.decode("utf-8", "replace")
            self._check(rc, f"compile of {source.name} ({' '.join(opts)})", log)
            if arch.startswith("sm_"):
                get_size, get = self.lib.nvrtcGetCUBINSize, self.lib.nvrtcGetCUBIN
            else:
                get_size, get = self.lib.nvrtcGetPTXSize, self.lib.nvrtcGetPTX
            self._check(get_size(prog, ctypes.byref(size)), "size query")
            out = ctypes.create_string_buffer(size.value)
            self._check(get(prog, out), "image query")
            image = out.raw[: size.value]
            if not arch.startswith("sm_"):
                image = image.rstrip(b"\0")
            return image, log
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


# ---------------------------------------------------------------------------------------------
# ptxas and nvcc
# ---------------------------------------------------------------------------------------------
def find_ptxas() -> Path | None:
    """$AGMA_PTXAS, the PyPI nvcc wheel's ptxas (CUDA 12.2 in CI), $CUDA_HOME/bin, PATH."""
    env = os.environ.get("AGMA_PTXAS")
    if env:
        return Path(env)
    pip_dir = _pip_package_dir("cuda_nvcc")
    if pip_dir is not None and (pip_dir / "bin" / "ptxas").is_file():
        return pip_dir / "bin" / "ptxas"
    for root in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root and Path(root, "bin", "ptxas").is_file():
            return Path(root, "bin", "ptxas")
    found = shutil.which("ptxas")
    return Path(found) if found else None


def find_nvcc() -> Path | None:
    env = os.environ.get("AGMA_NVCC")
    if env:
        return Path(env)
    found = shutil.which("nvcc")
    if found:
        return Path(found)
    for root in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root and Path(root, "bin", "nvcc").is_file():
            return Path(root, "bin", "nvcc")
    return None


def _run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CudaBuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr}{proc.stdout}")
    return proc


def tool_version(tool: Path) -> str:
    """'12.2' from ``tool --version`` ("release 12.2, V12.2.140")."""
    out = _run([str(tool), "--version"], f"{tool} --version").stdout
    m = re.search(r"release (\d+\.\d+)", out)
    return m.group(1) if m else "unknown"


def ptxas_cubin(ptx: bytes, sm: int, ptxas: Path | None = None) -> bytes:
    """PTX -> cubin for sm_<sm> with ptxas."""
    tool = ptxas or find_ptxas()
    if tool is None:
        raise CudaBuildError("ptxas not found: pip install " + PIP_PINS[1] + " or install the CUDA toolkit")
    with tempfile.TemporaryDirectory(prefix="agma-ptxas-") as d:
        src, dst = Path(d, "k.ptx"), Path(d, "k.cubin")
        src.write_bytes(ptx)
        _run([str(tool), f"-arch=sm_{sm}", str(src), "-o", str(dst)], "ptxas")
        return dst.read_bytes()


def nvcc_cubin(source: Path, sm: int, nvcc: Path | None = None, extra: Sequence[str] = ()) -> bytes:
    """``nvcc -cubin -arch=sm_<sm> -I<source folder> source``."""
    tool = nvcc or find_nvcc()
    if tool is None:
        raise CudaBuildError("nvcc not found (set AGMA_NVCC or put nvcc on PATH)")
    source = Path(source)
    with tempfile.TemporaryDirectory(prefix="agma-nvcc-") as d:
        dst = Path(d, "k.cubin")
        _run([str(tool), "-cubin", f"-arch=sm_{sm}", f"-I{source.parent}", *extra, str(source), "-o", str(dst)],
             "nvcc")
        return dst.read_bytes()


# ---------------------------------------------------------------------------------------------
# the box: build once for its own SM, cached
# ---------------------------------------------------------------------------------------------
def default_cache_dir() -> Path:
    env = os.environ.get("AGMA_CACHE_DIR")
    if env:
        return Path(env) / "cuda"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "agma" / "cuda"


@dataclass(frozen=True)
class BuiltKernels:
    cubin_path: Path
    toolchain: str       # "nvrtc" or "nvcc"
    cuda_version: str    # of the compiler, e.g. "12.2"
    sm: int
    cached: bool

    def as_dict(self) -> dict:
        return {"cubin": str(self.cubin_path), "toolchain": self.toolchain, "cuda_version": self.cuda_version,
                "sm": self.sm, "cached": self.cached}


def cubin_name(toolchain: str, cuda_version: str, sm: int) -> str:
    """The cache file build_cubin keeps the decoder in: by toolchain, compiler version, SM and sources."""
    return f"decode_heatmaps-cuda{cuda_version}-sm_{sm}-{source_digest([toolchain, str(sm)])[:12]}.cubin"


def cached_cubins(sm: int, cache_dir: str | os.PathLike | None = None) -> list[Path]:
    """The cubins in the cache that build_cubin would load for sm_<sm> from these sources, by either
    toolchain and any compiler version; compiles nothing, writes nothing (`agma doctor`)."""
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    found = []
    for toolchain in ("nvrtc", "nvcc"):
        suffix = cubin_name(toolchain, "", sm).split("-sm_", 1)[1]  # "<sm>-<sha12>.cubin"
        for path in sorted(cache.glob(f"decode_heatmaps-cuda*-sm_{suffix}")):
            try:
                with open(path, "rb") as f:
                    head = f.read(4)
            except OSError:
                continue
            if path.is_file() and is_cubin(head):
                found.append(path)
    return found


def _write_cached(path: Path, data: bytes) -> None:
    """A cache file appears whole or not at all (appliance.files.atomic_write), in a folder made on demand."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data)


def build_cubin(sm: int, cache_dir: str | os.PathLike | None = None, toolchain: str = "auto",
                nvrtc_path: str | os.PathLike | None = None) -> BuiltKernels:
    """The decoder's cubin for sm_<sm>, compiled once and cached by CUDA version, SM and sources.

    ``toolchain``: "nvrtc" (NVRTC straight to a cubin for the SM), "nvcc", or "auto" (NVRTC,
    else nvcc). The cache file is ``decode_heatmaps-cuda<ver>-sm_<sm>-<sha12>.cubin``.
    """
    if toolchain not in ("auto", "nvrtc", "nvcc"):
        raise ValueError(f"toolchain must be auto, nvrtc or nvcc, got {toolchain!r}")
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    errors = []
    if toolchain in ("auto", "nvrtc"):
        try:
            nvrtc = Nvrtc(nvrtc_path)
            ver = "%d.%d" % nvrtc.version()
            path = cache / cubin_name("nvrtc", ver, sm)
            if path.is_file() and is_cubin(path.read_bytes()[:4]):
                return BuiltKernels(path, "nvrtc", ver, sm, True)
            image, _ = nvrtc.compile(KERNEL_SOURCE, f"sm_{sm}")
            _write_cached(path, image)
            return BuiltKernels(path, "nvrtc", ver, sm, False)
        except CudaBuildError as e:
            if toolchain == "nvrtc":
                raise
            errors.append(str(e))
    nvcc = find_nvcc()
    if nvcc is None:
        raise CudaBuildError("cannot compile the CUDA decoder: " + " / ".join(errors + ["nvcc not found"]))
    ver = tool_version(nvcc)
    path = cache / cubin_name("nvcc", ver, sm)
    if path.is_file() and is_cubin(path.read_bytes()[:4]):
        return BuiltKernels(path, "nvcc", ver, sm, True)
    _write_cached(path, nvcc_cubin(KERNEL_SOURCE, sm, nvcc))
    return BuiltKernels(path, "nvcc", ver, sm, False)
