"""A straightforward per-joint implementation of the reference decoders: the parity oracle.

Written from the algorithm of DarkPose's and HRNet's ``get_final_preds`` (not copied), one map
at a time and the slow way, as they do it: the DARK path blurs every *full* map with
``cv2.GaussianBlur`` on a zero-padded float64 copy, casts it back to the map's dtype, rescales
it to the raw maximum, clamps at 1e-10, takes the log, and runs the Taylor step in Python.
The tests hold ``appliance.pose.decode`` to it and ``agma bench decode`` times it as the
baseline. Not for the pipeline.

Output contract as ``decode.decode_heatmaps``: coords float32 (N, J, 2) (x, y) heatmap px
(NaN where the maximum is not positive, where the references write (0, 0)), scores float32
(N, J) the raw maxima.
"""
from __future__ import annotations

import cv2
import numpy as np

LOG_FLOOR = 1e-10


def _work_copy(heatmaps) -> np.ndarray:
    hm = np.array(heatmaps, copy=True)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (N, J, H, W), got shape {hm.shape}")
    if hm.dtype != np.float64:
        hm = hm.astype(np.float32)
    return hm


def blur_rescale_log(map2d: np.ndarray, blur_kernel: int = 11) -> np.ndarray:
    """One map (H, W) -> its DARK log map (H, W), in the map's dtype, the reference way."""
    dtype = map2d.dtype.type
    pad = (blur_kernel - 1) // 2
    h, w = map2d.shape
    raw_max = map2d.max()
    padded = np.zeros((h + 2 * pad, w + 2 * pad), dtype=np.float64)
    padded[pad : pad + h, pad : pad + w] = map2d
    padded = cv2.GaussianBlur(padded, (blur_kernel, blur_kernel), 0)
    blurred = padded[pad : pad + h, pad : pad + w].astype(map2d.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        blurred *= raw_max / blurred.max()
        return np.log(np.maximum(blurred, dtype(LOG_FLOOR)))


def taylor_step(log_map: np.ndarray, x: int, y: int) -> tuple[float, float]:
    """Offset (dx, dy) of one Newton step on log_map (H, W) at integer (x, y); (0, 0) if it cannot."""
    h, w = log_map.shape
    if not (1 < x < w - 2 and 1 < y < h - 2):
        return 0.0, 0.0

    def at(yy: int, xx: int) -> float:
        return float(log_map[yy, xx])

    gx = 0.5 * (at(y, x + 1) - at(y, x - 1))
    gy = 0.5 * (at(y + 1, x) - at(y - 1, x))
    hxx = 0.25 * (at(y, x + 2) - 2.0 * at(y, x) + at(y, x - 2))
    hyy = 0.25 * (at(y + 2, x) - 2.0 * at(y, x) + at(y - 2, x))
    hxy = 0.25 * (at(y + 1, x + 1) - at(y - 1, x + 1) - at(y + 1, x - 1) + at(y - 1, x - 1))
    if hxx * hyy - hxy**2 != 0:
        with np.errstate(invalid="ignore"):
            step = -np.linalg.inv(np.array([[hxx, hxy], [hxy, hyy]])) @ np.array([gx, gy])
        return float(step[0]), float(step[1])
    return 0.0, 0.0


def decode_heatmaps_reference(
    heatmaps: np.ndarray, method: str = "dark", blur_kernel: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """Per-joint reference decode: heatmaps (N, J, H, W) -> (coords (N, J, 2), scores (N, J))."""
    if method not in ("dark", "standard"):
        raise ValueError(f"unknown decode method {method!r}")
    hm = _work_copy(heatmaps)
    n, j, h, w = hm.shape
    coords = np.full((n, j, 2), np.nan, dtype=np.float32)
    scores = np.zeros((n, j), dtype=np.float32)
    for a in range(n):
        for b in range(j):
            m = hm[a, b]
            flat_idx = int(np.argmax(m))
            raw_max = m.reshape(-1)[flat_idx]
            scores[a, b] = raw_max
            x, y = flat_idx % w, flat_idx // w
            if method == "dark":
                # The reference blurs every map, whatever its maximum.
                log_map = blur_rescale_log(m, blur_kernel)
                if not raw_max > 0:
                    continue
                ox, oy = taylor_step(log_map, x, y)
                coords[a, b] = (x + ox, y + oy)
            else:
                if not raw_max > 0:
                    continue
                cx, cy = float(x), float(y)
                if 1 < x < w - 1 and 1 < y < h - 1:
                    cx += 0.25 * float(np.sign(float(m[y, x + 1]) - float(m[y, x - 1])))
                    cy += 0.25 * float(np.sign(float(m[y + 1, x]) - float(m[y - 1, x])))
                coords[a, b] = (cx, cy)
    return coords, scores
