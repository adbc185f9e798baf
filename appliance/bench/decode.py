"""`agma bench decode`: the NumPy decoders beside the per-joint reference, in one run.

Each row times one decoder on realistic frame pairs (2 views x 17 joints x 96 x 72 float32:
``encode`` of random sub-pixel joints, random amplitudes, Gaussian noise), median microseconds
per frame pair, and its speedup over the per-joint reference implementation of the same method
(``decode_reference``) measured in the same run.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from appliance import bench
from appliance.joints import NUM_JOINTS
from appliance.pose import decode, decode_reference
from appliance.pose.engine import HEATMAP_HEIGHT, HEATMAP_WIDTH

VIEWS_PER_PAIR = 2


def realistic_frame_pairs(
    count: int = 8, seed: int = 0, noise_std: float = 0.02, sigma: float = decode.DEFAULT_SIGMA_HM_PX
) -> list[np.ndarray]:
    """``count`` float32 (2, 17, 96, 72) heatmap pairs: encoded joints, amplitude 0.4-0.95, noise."""
    rng = np.random.default_rng(seed)
    shape = (VIEWS_PER_PAIR, NUM_JOINTS)
    pairs = []
    for _ in range(count):
        coords = np.stack(
            [rng.uniform(3.0, HEATMAP_WIDTH - 4.0, shape), rng.uniform(3.0, HEATMAP_HEIGHT - 4.0, shape)],
            axis=-1,
        )
        amp = rng.uniform(0.4, 0.95, shape)[..., None, None]
        maps = decode.encode(coords, sigma=sigma) * amp
        maps = maps + rng.normal(0.0, noise_std, maps.shape)
        pairs.append(np.ascontiguousarray(maps, dtype=np.float32))
    return pairs


@bench.register("decode", default=False)
def bench_decode(args: Any = None) -> list[dict]:
    """Rows: NumPy DARK, NumPy standard, and the per-joint reference of each, per frame pair.

    ``args`` may carry ``repeat`` (timed calls of the NumPy decoders, default 300),
    ``reference_repeat`` (default min(repeat, 30): the reference is ~15x slower), ``seed``
    (default 0), ``blur_kernel`` (default 11). ``None`` takes every default.
    """
    repeat = int(getattr(args, "repeat", None) or 300)
    reference_repeat = int(getattr(args, "reference_repeat", None) or min(repeat, 30))
    seed = int(getattr(args, "seed", None) or 0)
    blur_kernel = int(getattr(args, "blur_kernel", None) or 11)
    pairs = realistic_frame_pairs(seed=seed)

    def timed(fn, method: str, n: int) -> float:
        cycle = itertools.cycle(pairs)
        return bench.median_us(lambda: fn(next(cycle), method, blur_kernel), repeat=n, warmup=3)

    t_ref = {
        "dark": timed(decode_reference.decode_heatmaps_reference, "dark", reference_repeat),
        "standard": timed(decode_reference.decode_heatmaps_reference, "standard", reference_repeat),
    }
    t_np = {
        "dark": timed(decode.decode_heatmaps, "dark", repeat),
        "standard": timed(decode.decode_heatmaps, "standard", repeat),
    }
    shape = [VIEWS_PER_PAIR, NUM_JOINTS, HEATMAP_HEIGHT, HEATMAP_WIDTH]
    rows = []
    for method in ("dark", "standard"):
        rows.append(
            {
                "name": f"decode_numpy_{method}",
                "method": method,
                "median_us": round(t_np[method], 1),
                "speedup_vs_reference": round(t_ref[method] / t_np[method], 2),
                "heatmaps_shape": shape,
            }
        )
    for method in ("dark", "standard"):
        rows.append(
            {
                "name": f"decode_reference_{method}",
                "method": method,
                "median_us": round(t_ref[method], 1),
                "speedup_vs_reference": 1.0,
                "heatmaps_shape": shape,
            }
        )
    # The CUDA kernels in the same run where a GPU exists (else one row saying why not).
    from .decode_cuda import bench_decode_cuda

    rows.extend(bench_decode_cuda(args))
    return rows
