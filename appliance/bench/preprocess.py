"""`agma bench preprocess [--check] [--json]`: preprocessing of a frame pair, on the CPU and on the GPU.

Rows:

- ``preprocess_cpu``: pose/preprocess.py's ``Preprocessor.batch`` (cv2.warpAffine per view, the
  NumPy normalisation into the engine's batch), both views, without and with the flip test;
- ``preprocess_cuda``: the GPU path (pose/cuda/decoder.py ``CudaPreprocessor``: the views copied
  once into pinned memory, one upload, one launch of pose/cuda/preprocess.cuh into a device
  buffer shaped as the engine's input): ``median_us`` is the host clock around copy, upload,
  kernel and one stream synchronisation, ``kernel_median_us`` the CUDA events around upload and
  kernel; with ``--check`` also ``max_abs_diff_vs_opencv`` of the GPU's output against
  ``Preprocessor.batch``. Without a GPU or pycuda it is skipped with the reason.
- with ``--check``, ``preprocess_cuda_host_check``: the same kernel source built for the host
  (the CUDA host shim, pose/cuda/host_decoder.py) and launched with the GPU path's packing and
  launch configuration, against ``Preprocessor.batch`` on the check cases (:func:`check_cases`:
  crops across the image's edges, inside, magnifying, larger than the image, wholly outside,
  seeded random ones; the synthetic scene and a gradient-and-noise view; with the flip test):
  ``max_abs_diff_vs_opencv`` after normalisation, how many values differ at all, ``passed``
  (<= ``BOUND``). Not a timing: the host shim runs one OS thread per CUDA thread.

Where the two may differ, and why: nowhere with the OpenCV this project pins (opencv-python
5.1's float warp, which preprocess.cuh reproduces: float64 coordinates, fused float32
interpolation, round half to even; at the crop's border a pixel whose (x+1, y+1) neighbour is
outside the image takes the border value 0, one with only some neighbours outside reads 0 for
those). Another OpenCV build may round differently: an aarch64 build may take OpenCV's NEON
float16 interpolation for 8-bit images, and the old fixed-point warp (1/32 px coordinates)
differs by one uint8 level (0.017 after normalisation) at a few pixels, mostly along edges;
the bound of 1e-3 then fails loudly, which is the point. A failed check makes `agma bench`
exit 1.
"""
from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import bench

BOUND = 1e-3
WHERE_THEY_MAY_DIFFER = (
    "nowhere with opencv-python 5.1 (the kernel reproduces its float warp); another OpenCV build "
    "(aarch64 NEON float16 interpolation, the old 1/32-px fixed-point warp) may differ by one uint8 "
    "level (0.017) at a few pixels, mostly where the crop meets the image's edge")


def _scene_views() -> tuple[np.ndarray, np.ndarray]:
    from ..capture.synthetic import SyntheticSource

    frame = SyntheticSource(seed=0, n_frames=2, paced=False, render=True).frame_at(1, 0)
    return frame.left, frame.right


def gradient_view(seed: int, h: int, w: int) -> np.ndarray:
    """Smooth gradients (bilinear rounding shows there) and a channel of noise (a coordinate error shows there)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    b = (xx * 0.37 + yy * 0.11 + 40 * np.sin(xx / 17.0 + seed)) % 256
    g = (yy * 0.53 + 30 * np.cos(yy / 13.0)) % 256
    return np.stack([b, g, rng.integers(0, 256, (h, w))], -1).astype(np.uint8)


def check_cases(seed: int = 0) -> list[tuple[str, np.ndarray, np.ndarray, list]]:
    """(what, left, right, [left crop, right crop]) for the kernel-vs-OpenCV check."""
    from ..pose.crop import crop_from_box

    left, right = _scene_views()
    h, w = left.shape[:2]
    grad_l, grad_r = gradient_view(seed + 1, h, w), gradient_view(seed + 2, h, w)
    rng = np.random.default_rng(seed)
    random_crops = [crop_from_box(rng.uniform(-200, w), rng.uniform(-200, h), rng.uniform(60, 900),
                                  rng.uniform(60, 700)) for _ in range(2)]
    return [
        ("scene, warmer-sized crops", left, right,
         [crop_from_box(300.0, 60.0, 560.0, 600.0), crop_from_box(240.0, 60.0, 560.0, 600.0)]),
        ("across the left/top edges; inside", grad_l, grad_r,
         [crop_from_box(-150.0, -60.0, 500.0, 520.0), crop_from_box(300.0, 100.0, 600.0, 400.0)]),
        ("magnifying at the bottom-right corner; larger than the image", grad_l, grad_r,
         [crop_from_box(w - 100.0, h - 80.0, 90.0, 120.0), crop_from_box(-300.0, -200.0, w + 620.0, h + 480.0)]),
        ("wholly outside; seeded random", grad_r, grad_l,
         [crop_from_box(w + 1700.0, h + 1300.0, 300.0, 400.0), random_crops[0]]),
        ("seeded random", left, grad_r, [random_crops[1], random_crops[0]]),
    ]


def opencv_batch(left: np.ndarray, right: np.ndarray, crops, flip_test: bool) -> np.ndarray:
    """The CPU path the box runs without a GPU: Preprocessor.batch (cv2.warpAffine + NumPy)."""
    from ..pose.preprocess import Preprocessor

    return Preprocessor(flip_test=flip_test).batch(SimpleNamespace(left=left, right=right), crops)


def compare(got: np.ndarray, want: np.ndarray) -> tuple[float, int]:
    """(max |got - want|, number of values that differ)."""
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    return float(diff.max()), int(np.count_nonzero(diff))


def host_check(seed: int = 0) -> dict:
    """The kernel on the host shim against OpenCV on every check case, with the flip test."""
    from ..pose.cuda import host_decoder

    worst, differing, compared = 0.0, 0, 0
    t0 = time.monotonic()
    cases = check_cases(seed)
    for _, left, right, crops in cases:
        got = host_decoder.preprocess([left, right], crops, flip_test=True)
        want = opencv_batch(left, right, crops, flip_test=True)
        d, n = compare(got, want)
        worst, differing, compared = max(worst, d), differing + n, compared + want.size
    import cv2

    return {"name": "preprocess_cuda_host_check", "median_us": None, "max_abs_diff_vs_opencv": worst,
            "values_compared": compared, "values_differing": differing, "bound": BOUND,
            "passed": worst <= BOUND, "cases": [c[0] for c in cases], "opencv": cv2.__version__,
            "where_they_may_differ": WHERE_THEY_MAY_DIFFER, "seconds": round(time.monotonic() - t0, 1),
            "note": "the kernel's source built for the host (CUDA host shim) with the GPU path's packing and "
                    "launch configuration; not a timing"}


def cpu_row(repeat: int) -> dict:
    from ..pose.preprocess import CropPolicy, Preprocessor
    from .engine import WARMER_ROI

    left, right = _scene_views()
    frame = SimpleNamespace(left=left, right=right)
    plain = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI))
    flip = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI), flip_test=True)
    crops, _ = plain.crops(frame)
    # the pose stage's call: into the preprocessor's own buffers
    t = bench.median_us(lambda: plain.batch(frame, crops, reuse=True), repeat=repeat)
    t_flip = bench.median_us(lambda: flip.batch(frame, crops, reuse=True), repeat=max(10, repeat // 2))
    return {"name": "preprocess_cpu", "median_us": round(t, 1), "flip_test_median_us": round(t_flip, 1),
            "image": f"{left.shape[1]}x{left.shape[0]}", "implementation": "cv2.warpAffine + NumPy (Preprocessor.batch, reuse=True)"}


def gpu_row(repeat: int, check: bool) -> dict:
    """The GPU path per frame pair; skipped (with the reason) without pycuda or a device."""
    from ..pose.cuda import decoder as cuda_decoder
    from ..pose.engine import INPUT_HEIGHT, INPUT_WIDTH
    from ..pose.preprocess import CropPolicy, Preprocessor
    from .engine import WARMER_ROI

    reason = cuda_decoder.unavailable_reason()
    if reason is not None:
        return {"name": "preprocess_cuda", "median_us": None, "skipped_reason": f"no GPU path here: {reason}"}
    left, right = _scene_views()
    crops, _ = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI)).crops(SimpleNamespace(left=left, right=right))

    def measure(g) -> dict:
        cuda, stream = g.cuda, g.stream
        pre = cuda_decoder.CudaPreprocessor(g.decoder)
        out = cuda.mem_alloc(4 * 3 * INPUT_HEIGHT * INPUT_WIDTH * 4)
        start, end = cuda.Event(), cuda.Event()
        row: dict[str, Any] = {"name": "preprocess_cuda", "device": g.decoder.device_name, "sm": g.decoder.sm}
        try:
            for flip_test, key in ((False, "median_us"), (True, "flip_test_median_us")):
                host_us, kernel_ms = [], []
                for i in range(repeat + 10):
                    t0 = time.perf_counter_ns()
                    start.record(stream)
                    pre.enqueue(left, right, crops, flip_test, int(out), stream)
                    end.record(stream)
                    stream.synchronize()
                    if i >= 10:  # warm-up: first launches, the staging buffer's allocation
                        host_us.append((time.perf_counter_ns() - t0) / 1000.0)
                        kernel_ms.append(end.time_since(start))
                row[key] = round(float(np.median(host_us)), 1)
                row["kernel_" + key] = round(float(np.median(kernel_ms)) * 1000.0, 1)
            row["allocations_after_warmup"] = pre.allocations - 2
            if check:
                worst = 0.0
                for _, cl, cr, cc in check_cases():
                    n = pre.enqueue(cl, cr, cc, True, int(out), stream)
                    host = cuda.pagelocked_empty((n, 3, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
                    cuda.memcpy_dtoh_async(host, out, stream)
                    stream.synchronize()
                    worst = max(worst, compare(np.array(host), opencv_batch(cl, cr, cc, True))[0])
                row.update(max_abs_diff_vs_opencv=worst, bound=BOUND, passed=worst <= BOUND)
        finally:
            out.free()
        row["timing"] = ("median_us: host clock, pinned copy + upload + kernel + one sync; kernel_median_us: "
                         "CUDA events around upload and kernel")
        return row

    try:
        with cuda_decoder.GpuThread() as gpu:
            return gpu.call(measure)
    except cuda_decoder.CudaUnavailable as exc:
        return {"name": "preprocess_cuda", "median_us": None, "skipped_reason": str(exc)}


@bench.register("preprocess", default=False)
def bench_preprocess(args: Any) -> list[dict]:
    repeat = int(getattr(args, "repeat", None) or 200)
    check = bool(getattr(args, "check", False))
    rows = [cpu_row(repeat), gpu_row(repeat, check)]
    if check:
        rows.append(host_check())
    return rows
