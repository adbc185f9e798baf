"""The heatmap codec: ``encode`` (joints -> target heatmaps) beside ``decode`` (heatmaps -> joints).

Heatmaps are (N, J, H, W) = (views, joints, 96, 72) in heatmap pixels; coordinates are (x, y)
= (column, row) with the origin at the centre of the top-left heatmap pixel.

``decode_heatmaps`` reproduces the references' ``get_final_preds`` before their affine step:

- ``"dark"`` (ilovepose/DarkPose): argmax of the raw map (first maximum in row-major order);
  the map blurred by an 11x11 Gaussian with zero padding (sigma as OpenCV derives it from the
  kernel size: 0.3 * ((k - 1) / 2 - 1) + 0.8 = 2.0), rescaled to the raw maximum, clamped at
  1e-10, log; one Newton (second-order Taylor) step ``-H^-1 D`` with central differences at the
  argmax, only where 2 <= x <= W - 3 and 2 <= y <= H - 3 and det(H) != 0; offsets not clamped.
- ``"standard"`` (leoxiaobin/deep-high-resolution-net.pytorch, ``TEST.POST_PROCESS``): from
  the raw argmax, +-0.25 px per axis toward the higher neighbour, only where 1 < x < W - 1 and
  1 < y < H - 1 (no step on an axis whose two neighbours are equal).

Both: a map whose maximum is not positive gives NaN coordinates (the references return the
sentinel (0, 0)) and keeps its score, the raw maximum.

Speed: the Taylor step reads 13 values of the blurred log map in the 5x5 neighbourhood of the
maximum, and each of those needs only the (5 + k - 1)^2 raw pixels around it; the blur is then
two small matrix products per map, vectorised over all maps. The rescale to the raw maximum
multiplies the blurred map by one positive constant, which the log turns into an additive
constant that cancels in every difference, so it can be skipped -- *unless* the 1e-10 clamp
bites at one of the 13 samples. Those maps (no positive blurred sample, or a sample below
1e-9) take the exact path: the full map is blurred, rescaled, clamped and logged as the
reference does, in the reference's dtype.
"""
from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Sequence

import cv2
import numpy as np

from appliance.pose.crop import Crop
from appliance.pose.decoders import DECODER_NAMES
from appliance.pose.engine import HEATMAP_HEIGHT, HEATMAP_WIDTH

logger = logging.getLogger("appliance.pose.decode")

METHODS = DECODER_NAMES  # "dark", "standard" (appliance.pose.decoders)
#: The reference's clamp of the blurred map before the log.
LOG_FLOOR = 1e-10
#: Below this blurred value (before the rescale, which only grows positive values) a sample
#: could reach the clamp: the map takes the exact full-map path. 10x margin over LOG_FLOOR.
_CLAMP_SAFE = 1e-9
#: Default sigma of the training target at 96x72 heatmaps (DarkPose, COCO 384x288).
DEFAULT_SIGMA_HM_PX = 3.0

# (row, col) in the 5x5 neighbourhood (centre (2, 2)) of the 13 samples the Taylor step reads.
_C = 2
_SAMPLES = (
    (_C, _C),
    (_C, _C + 1), (_C, _C - 1), (_C, _C + 2), (_C, _C - 2),
    (_C + 1, _C), (_C - 1, _C), (_C + 2, _C), (_C - 2, _C),
    (_C + 1, _C + 1), (_C - 1, _C + 1), (_C + 1, _C - 1), (_C - 1, _C - 1),
)
_SAMPLE_FLAT = np.array([r * 5 + c for r, c in _SAMPLES], dtype=np.intp)


# ----------------------------------------------------------------------------------------
# encode
# ----------------------------------------------------------------------------------------
def encode(
    coords_hm: np.ndarray,
    heatmap_hw: tuple[int, int] = (HEATMAP_HEIGHT, HEATMAP_WIDTH),
    sigma: float = DEFAULT_SIGMA_HM_PX,
) -> np.ndarray:
    """Joints (..., J, 2) as (x, y) heatmap px -> float32 target heatmaps (..., J, H, W).

    DarkPose's unbiased target: ``exp(-((x - mu_x)^2 + (y - mu_y)^2) / (2 sigma^2))`` over the
    full map at the unrounded sub-pixel centre (amplitude 1 at the centre; no truncation).
    A joint with a NaN coordinate gives an all-zero map. ``sigma`` in heatmap px.
    """
    c = np.asarray(coords_hm, dtype=np.float64)
    if c.shape[-1:] != (2,):
        raise ValueError(f"coords_hm must have shape (..., 2), got {c.shape}")
    h, w = (int(v) for v in heatmap_hw)
    if h < 1 or w < 1:
        raise ValueError(f"heatmap_hw must be positive, got {heatmap_hw}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    missing = np.isnan(c).any(axis=-1)  # (...)
    c = np.where(missing[..., None], 0.0, c)
    inv_two_var = 1.0 / (2.0 * float(sigma) ** 2)
    xs = np.arange(w, dtype=np.float64)
    ys = np.arange(h, dtype=np.float64)
    gx = np.exp(-((xs - c[..., 0:1]) ** 2) * inv_two_var)  # (..., W)
    gy = np.exp(-((ys - c[..., 1:2]) ** 2) * inv_two_var)  # (..., H)
    gy = np.where(missing[..., None], 0.0, gy)
    # exp(a + b) = exp(a) exp(b): a separable outer product, rounded once to float32.
    return (gy[..., :, None] * gx[..., None, :]).astype(np.float32)


# ----------------------------------------------------------------------------------------
# decode
# ----------------------------------------------------------------------------------------
def _check_method(method: str, blur_kernel: int) -> None:
    if method not in METHODS:
        raise ValueError(f"unknown decode method {method!r}; expected one of {METHODS}")
    if method == "dark":
        if int(blur_kernel) != blur_kernel or blur_kernel < 3 or blur_kernel % 2 != 1:
            raise ValueError(f"blur_kernel must be an odd integer >= 3, got {blur_kernel!r}")


def _as_maps(heatmaps) -> np.ndarray:
    """(N, J, H, W) array of a floating dtype, never a copy we write to."""
    hm = np.asarray(heatmaps)
    if hm.ndim != 4:
        raise ValueError(f"heatmaps must be (N, J, H, W), got shape {hm.shape}")
    if not np.issubdtype(hm.dtype, np.floating):
        hm = hm.astype(np.float32)
    if hm.shape[2] < 1 or hm.shape[3] < 1:
        raise ValueError(f"heatmaps must have H, W >= 1, got shape {hm.shape}")
    return hm


def _work_dtype(dtype: np.dtype) -> type:
    """The dtype the reference would blur and log in (float16 input is decoded as float32)."""
    return np.float64 if dtype == np.float64 else np.float32


@functools.lru_cache(maxsize=8)
def gaussian_taps(blur_kernel: int) -> np.ndarray:
    """float64 (k,) taps of cv2.GaussianBlur's kernel for ksize k and sigma 0 (OpenCV's sigma)."""
    taps = cv2.getGaussianKernel(int(blur_kernel), 0, ktype=cv2.CV_64F).ravel()
    taps.setflags(write=False)
    return taps


@functools.lru_cache(maxsize=8)
def _band(blur_kernel: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Band matrix G (5, S) with (G @ P @ G.T)[i, j] = blur of patch P (S, S) at 5x5 (i, j).

    S = 5 + k - 1: the raw pixels within 2 + (k - 1) / 2 of the maximum. Also the patch
    offsets (S,) and G.T.
    """
    taps = gaussian_taps(blur_kernel)
    k = taps.size
    s = 5 + k - 1
    g = np.zeros((5, s), dtype=np.float64)
    for i in range(5):
        g[i, i : i + k] = taps
    radius = 2 + (k - 1) // 2
    offsets = np.arange(-radius, radius + 1, dtype=np.intp)
    gt = np.ascontiguousarray(g.T)
    for a in (g, offsets, gt):
        a.setflags(write=False)
    return g, offsets, gt


def _full_log_window(
    map2d: np.ndarray, max_val: float, px: int, py: int, blur_kernel: int
) -> np.ndarray:
    """Exact reference path for one map: float64 (5, 5) of the clamped log of the blurred map.

    Blur with zero padding in float64, cast to the work dtype, rescale to the raw maximum,
    clamp at 1e-10 and log, all in the work dtype, as ``gaussian_blur`` + ``np.maximum`` +
    ``np.log`` of the reference do.
    """
    wd = _work_dtype(map2d.dtype)
    taps = gaussian_taps(blur_kernel)
    blurred = cv2.sepFilter2D(
        np.asarray(map2d, dtype=np.float64), cv2.CV_64F, taps, taps,
        borderType=cv2.BORDER_CONSTANT,
    ).astype(wd)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        blurred *= wd(max_val) / blurred.max()
        log_map = np.log(np.maximum(blurred, wd(LOG_FLOOR)))
    return log_map[py - 2 : py + 3, px - 2 : px + 3].astype(np.float64)


def _dark_offsets(
    flat: np.ndarray, maps: np.ndarray, px: np.ndarray, py: np.ndarray, h: int, w: int, blur_kernel: int
) -> np.ndarray:
    """Taylor offsets (K, 2) float64 for maps ``maps`` (K,) with argmax (px, py) strictly inside.

    ``flat`` is the (M, H*W) view of the heatmaps. 0 where the Hessian is singular.
    """
    g, offsets, gt = _band(blur_kernel)
    ry = py[:, None] + offsets  # (K, S) rows of the patch
    rx = px[:, None] + offsets  # (K, S) columns
    # Zero padding: rather than zeroing the patch's outside pixels, zero their weights in the
    # two band matrices (the gathered values there are clamped duplicates, finite or not).
    g_rows = g * ((ry >= 0) & (ry < h))[:, None, :]  # (K, 5, S)
    g_cols = gt * ((rx >= 0) & (rx < w))[:, :, None]  # (K, S, 5)
    lin = (
        (maps * (h * w))[:, None, None]
        + (np.minimum(np.maximum(ry, 0), h - 1) * w)[:, :, None]
        + np.minimum(np.maximum(rx, 0), w - 1)[:, None, :]
    )
    patch = np.take(flat.reshape(-1), lin).astype(np.float64)  # (K, S, S) raw pixels
    blur5 = np.matmul(np.matmul(g_rows, patch), g_cols).reshape(-1, 25)  # (K, 25) blurred 5x5
    samples = blur5[:, _SAMPLE_FLAT]  # (K, 13)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = samples.min(axis=1) >= _CLAMP_SAFE  # NaN compares False -> exact path
        logs = np.log(samples)
    slow = np.flatnonzero(~exact)
    if slow.size:
        hm3 = flat.reshape(-1, h, w)
        for k in slow:
            i = int(maps[k])
            x, y = int(px[k]), int(py[k])
            window = _full_log_window(hm3[i], float(flat[i, y * w + x]), x, y, blur_kernel)
            logs[k] = window.reshape(25)[_SAMPLE_FLAT]
    return _newton_step(logs)


def _derivative_matrix() -> np.ndarray:
    """(13, 5) float64: log samples (_SAMPLES order) -> (dx, dy, dxx, dyy, dxy), central differences."""
    m = np.zeros((13, 5), dtype=np.float64)
    m[[1, 2], 0] = 0.5, -0.5  # dx  = (L[x+1] - L[x-1]) / 2
    m[[5, 6], 1] = 0.5, -0.5  # dy  = (L[y+1] - L[y-1]) / 2
    m[[3, 0, 4], 2] = 0.25, -0.5, 0.25  # dxx = (L[x+2] - 2 L + L[x-2]) / 4
    m[[7, 0, 8], 3] = 0.25, -0.5, 0.25  # dyy = (L[y+2] - 2 L + L[y-2]) / 4
    m[[9, 10, 11, 12], 4] = 0.25, -0.25, -0.25, 0.25  # dxy = (L[+,+] - L[-,+] - L[+,-] + L[-,-]) / 4
    m.setflags(write=False)
    return m


_DERIVATIVES = _derivative_matrix()


def _newton_step(logs: np.ndarray) -> np.ndarray:
    """(K, 13) log samples in _SAMPLES order -> (K, 2) offsets -H^-1 D; 0 where det(H) == 0."""
    dx, dy, dxx, dyy, dxy = (logs @ _DERIVATIVES).T
    det = dxx * dyy - dxy * dxy
    step = det != 0  # NaN != 0 is True: a NaN Hessian gives NaN, as the reference
    out = np.empty((logs.shape[0], 2), dtype=np.float64)
    out[:, 0] = dxy * dy - dyy * dx
    out[:, 1] = dxy * dx - dxx * dy
    with np.errstate(divide="ignore", invalid="ignore"):
        out /= np.where(step, det, np.inf)[:, None]  # singular: offset 0 (finite / inf)
    return out


def decode_heatmaps(
    heatmaps: np.ndarray, method: str = "dark", blur_kernel: int = 11
) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (N, J, H, W) float32 (float16/float64 accepted) -> (coords, scores).

    coords: float32 (N, J, 2), (x, y) in heatmap px; NaN where the map's maximum is not > 0.
    scores: float32 (N, J), the raw maximum of each map.
    ``method`` "dark" or "standard" (module docstring); ``blur_kernel`` odd, DARK only.
    The caller's array is never modified.
    """
    _check_method(method, blur_kernel)
    hm = _as_maps(heatmaps)
    n, j, h, w = hm.shape
    m = n * j
    if m == 0:
        return np.zeros((n, j, 2), np.float32), np.zeros((n, j), np.float32)
    flat = hm.reshape(m, h * w)
    idx = np.argmax(flat, axis=1)  # first maximum in row-major order
    rows = np.arange(m)
    raw_max = flat[rows, idx]
    scores = raw_max.astype(np.float32)
    px = idx % w
    py = idx // w
    coords = np.empty((m, 2), dtype=np.float64)
    coords[:, 0] = px
    coords[:, 1] = py
    valid = raw_max > 0  # NaN -> False

    if method == "dark":
        inner = valid & (px >= 2) & (px <= w - 3) & (py >= 2) & (py <= h - 3)
        sel = np.flatnonzero(inner)
        if sel.size:
            coords[sel] += _dark_offsets(flat, sel, px[sel], py[sel], h, w, int(blur_kernel))
    else:
        inner = valid & (px > 1) & (px < w - 1) & (py > 1) & (py < h - 1)
        sel = np.flatnonzero(inner)
        if sel.size:
            at = idx[sel]
            diff_x = flat[sel, at + 1].astype(np.float64) - flat[sel, at - 1]
            diff_y = flat[sel, at + w].astype(np.float64) - flat[sel, at - w]
            coords[sel, 0] += 0.25 * np.sign(diff_x)
            coords[sel, 1] += 0.25 * np.sign(diff_y)

    coords[~valid] = np.nan
    return coords.astype(np.float32).reshape(n, j, 2), scores.reshape(n, j)


# ----------------------------------------------------------------------------------------
# the one entry point
# ----------------------------------------------------------------------------------------
_logged_paths: set[str] = set()
_logged_lock = threading.Lock()


def _log_path_once(path: str, detail: str) -> None:
    with _logged_lock:
        if path in _logged_paths:
            return
        _logged_paths.add(path)
    logger.info("decode_to_image: %s path (%s)", path, detail)


def crop_matrices(
    crops: Sequence[Crop] | Crop, n: int, heatmap_wh: tuple[int, int] | None = None
) -> np.ndarray:
    """(N, 2, 3) float64 heatmap px -> image px matrices of ``crops`` (one Crop: all N views).

    ValueError when the number of crops is not N, or (given ``heatmap_wh`` (w, h), the size of
    the heatmaps decoded) when a crop's heatmap size differs from it.
    """
    crops = [crops] * n if isinstance(crops, Crop) else list(crops)
    if heatmap_wh is not None:
        for c in crops:
            if tuple(c.heatmap_wh) != tuple(heatmap_wh):
                raise ValueError(
                    f"crop heatmap size {c.heatmap_wh} (w, h) does not match heatmaps {tuple(heatmap_wh)}")
    if len(crops) != n:
        raise ValueError(f"need one crop per heatmap batch entry: {len(crops)} crops for N={n}")
    if n == 0:
        return np.zeros((0, 2, 3), dtype=np.float64)
    return np.stack([c.hm_to_img for c in crops])


def decode_to_image(
    heatmaps,
    crops: Sequence[Crop] | Crop,
    method: str = "dark",
    blur_kernel: int = 11,
) -> tuple[np.ndarray, np.ndarray]:
    """Heatmaps (N, J, H, W) + one Crop per view -> (uv float32 (N, J, 2) image px, scores (N, J)).

    The one decoding entry point of the pipeline. ``uv`` is (u, v) in the pixels of each view's
    image (NaN where the map has no positive maximum); ``scores`` float32 the raw maxima.
    Each crop's convention ("dark"/"hrnet") sets its heatmap -> image mapping.

    Dispatch: an object that is not a NumPy array and has a ``decode_to_image`` method (a
    device buffer, later issue) decodes itself: ``heatmaps.decode_to_image(crops, method,
    blur_kernel)``. Everything else is decoded on the host with NumPy. The path taken is
    logged once per path per process on logger "appliance.pose.decode".
    """
    if not isinstance(heatmaps, np.ndarray) and callable(getattr(heatmaps, "decode_to_image", None)):
        _log_path_once("device", type(heatmaps).__name__)
        return heatmaps.decode_to_image(crops, method, blur_kernel)
    _log_path_once("numpy", f"method={method}")
    hm = _as_maps(heatmaps)
    n, _, h, w = hm.shape
    mats = crop_matrices(crops, n, (w, h))
    coords, scores = decode_heatmaps(hm, method=method, blur_kernel=blur_kernel)
    uv = np.matmul(coords.astype(np.float64), mats[:, :, :2].transpose(0, 2, 1)) + mats[:, None, :, 2]
    return uv.astype(np.float32), scores
