"""`agma bench decode-cuda`: the CUDA decoder's kernel time per frame pair, from CUDA events.

Rows, one per method and input dtype: ``median_us`` is the median over ``repeat`` launches of
the kernel time between two CUDA events recorded on the stream around the launch(es) of one
frame pair (2 views x 17 joints x 96 x 72, realistic heatmaps already in device memory, as the
engine leaves them); ``e2e_median_us`` is launch + copy of the 2 x 17 x 3 results to pinned
host memory + the one stream synchronisation, on the host clock. Without a GPU (or
pycuda) a single row says the path is unavailable and why; it never reports a number it did
not measure.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from appliance import bench
from appliance.bench.decode import VIEWS_PER_PAIR, realistic_frame_pairs
from appliance.pose.cuda import build as cuda_build
from appliance.pose.cuda.host_decoder import identity_affines


@bench.register("decode-cuda", default=False)
def bench_decode_cuda(args: Any = None) -> list[dict]:
    """``args`` may carry ``repeat`` (default 300) and ``seed`` (default 0); None: defaults."""
    from appliance.pose.cuda import decoder as cuda_decoder  # noqa: PLC0415 - lazily, pycuda may be absent

    repeat = int(getattr(args, "repeat", None) or 300)
    seed = int(getattr(args, "seed", None) or 0)
    reason = cuda_decoder.unavailable_reason()
    if reason is not None:
        return [{"name": "decode_cuda", "available": False, "median_us": None, "reason": reason}]
    pairs = realistic_frame_pairs(count=8, seed=seed)
    mats = identity_affines(VIEWS_PER_PAIR)

    def measure(gpu: cuda_decoder.GpuThread) -> list[dict]:
        cuda, stream, dec = gpu.cuda, gpu.stream, gpu.decoder
        rows = []
        for dtype in (np.float32, np.float16):
            host = [np.ascontiguousarray(p.astype(dtype)) for p in pairs]
            bufs = [cuda.mem_alloc(h.nbytes) for h in host]
            for b, h in zip(bufs, host):
                cuda.memcpy_htod(b, h)
            shape = host[0].shape
            for method in ("dark", "standard"):
                start, end = cuda.Event(), cuda.Event()
                for i in range(min(20, repeat)):  # warm-up
                    dec.decode(int(bufs[i % len(bufs)]), shape, dtype, stream, mats, method)
                kernel_ms, e2e_us = [], []
                for i in range(repeat):
                    ptr = int(bufs[i % len(bufs)])
                    t0 = time.perf_counter_ns()
                    start.record(stream)
                    dec.launch(ptr, shape, dtype, stream, mats, method)
                    end.record(stream)
                    dec.copy_out(VIEWS_PER_PAIR * shape[1] * 3, stream)
                    stream.synchronize()
                    e2e_us.append((time.perf_counter_ns() - t0) / 1000.0)
                    kernel_ms.append(end.time_since(start))
                rows.append({
                    "name": f"decode_cuda_{method}_{np.dtype(dtype).name}",
                    "available": True,
                    "method": method,
                    "dtype": np.dtype(dtype).name,
                    "median_us": round(float(np.median(kernel_ms)) * 1000.0, 2),
                    "e2e_median_us": round(float(np.median(e2e_us)), 1),
                    "timing": "median_us: CUDA events around the kernel launch(es) on the stream; "
                              "e2e_median_us: host clock, launch + 2x17x3 copy + one sync",
                    "device": dec.device_name,
                    "sm": dec.sm,
                    "toolchain": f"{dec.built.toolchain} {dec.built.cuda_version}",
                    "threads_per_block": dec.threads,
                    "heatmaps_shape": list(shape),
                })
            for b in bufs:
                b.free()
        return rows

    try:
        with cuda_decoder.GpuThread() as gpu:
            return gpu.call(measure)
    except (cuda_decoder.CudaUnavailable, cuda_build.CudaBuildError) as e:
        return [{"name": "decode_cuda", "available": False, "median_us": None, "reason": str(e)}]
