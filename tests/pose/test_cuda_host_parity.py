"""The CUDA decoder's own source (appliance/pose/cuda/decode_heatmaps.cu), built for the host
through cuda_host_shim.h and run under its real launch configuration, against the NumPy decoder.

Why: no GPU exists in CI, yet the kernel's arithmetic (argmax tie-breaks, the zero-padded
blur and its whole-map rescale, the log clamp, the Taylor and border rules, NaN handling,
float16 loads, the affine step) and its block-level logic (the shared-memory reductions, the
barriers, the shared-memory layout) must be right before the box ever runs it. The shim runs
one host thread per CUDA thread with real barriers, so a missing __syncthreads() or a
non-uniform branch around one shows here as a wrong number, a poisoned (NaN) shared read or a
reported deadlock.

Tolerances (from the fixture's README): <= 1e-3 heatmap px on coordinates, the same NaN
pattern, scores identical.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from appliance.pose import decode, decode_reference
from appliance.pose.cuda import build as cuda_build, host_decoder
from appliance.pose.crop import crop_from_box

TOL_HM_PX = 1e-3
H, W, J = 96, 72, 17


@pytest.fixture(scope="module")
def lib():
    return host_decoder.load_library()


@pytest.fixture(scope="module")
def fixture(fixtures_dir):
    return np.load(fixtures_dir / "dark_reference_sample.npz")


def _assert_same(coords, scores, ref_coords, ref_scores, tol=TOL_HM_PX, what=""):
    """Same NaN pattern, coordinates within tol, scores identical (NaN == NaN)."""
    nan_a = np.isnan(coords)
    nan_b = np.isnan(ref_coords)
    bad = np.argwhere(nan_a != nan_b)
    assert bad.size == 0, f"{what}: NaN pattern differs at {bad[:5].tolist()}"
    err = np.abs(np.where(nan_a, 0.0, coords.astype(np.float64) - ref_coords.astype(np.float64)))
    worst = np.unravel_index(np.argmax(err), err.shape)
    assert err.max() <= tol, f"{what}: coordinate error {err.max():.3g} > {tol} at {worst}"
    assert np.array_equal(scores, ref_scores, equal_nan=True), f"{what}: scores differ"


def _taylor_from_logs(L: np.ndarray, px: int, py: int) -> tuple[float, float]:
    """One Newton step on a float64 log map at (px, py), as the references take it."""
    dx = 0.5 * (L[py, px + 1] - L[py, px - 1])
    dy = 0.5 * (L[py + 1, px] - L[py - 1, px])
    dxx = 0.25 * (L[py, px + 2] - 2 * L[py, px] + L[py, px - 2])
    dyy = 0.25 * (L[py + 2, px] - 2 * L[py, px] + L[py - 2, px])
    dxy = 0.25 * (L[py + 1, px + 1] - L[py - 1, px + 1] - L[py + 1, px - 1] + L[py - 1, px - 1])
    det = dxx * dyy - dxy * dxy
    if det != 0:
        return px + (dxy * dy - dyy * dx) / det, py + (dxy * dx - dxx * dy) / det
    return float(px), float(py)


def dark_float32_path_correctly_rounded_log(map2d: np.ndarray, blur_kernel: int = 11):
    """The reference's float32 DARK path for one map, with a correctly rounded float32 log.

    Where the 1e-10 clamp can bite, the reference (and the NumPy decoder) take the log of a
    float32 map with NumPy's float32 log, which is up to 4 ulp off and CPU-dependent (SIMD
    code paths). On ill-conditioned maps (a near-singular Hessian: e.g. a tiny positive spike
    over a blurred map that is negative everywhere, whose Newton step flies tens of pixels)
    those ulps move the result by more than 1e-3 px, so the answer is only defined up to the
    float32 log's rounding. The kernel takes float(log(double)) there; this is its oracle.
    Returns (x, y) or None when the map does not take the float32 path.
    """
    m = map2d.astype(np.float32)
    idx = int(np.argmax(m))
    h, w = m.shape
    px, py = idx % w, idx // w
    score = m.reshape(-1)[idx]
    if not (score > 0 and 2 <= px <= w - 3 and 2 <= py <= h - 3):
        return None
    taps = cv2.getGaussianKernel(blur_kernel, 0, ktype=cv2.CV_64F).ravel()
    b64 = cv2.sepFilter2D(m.astype(np.float64), cv2.CV_64F, taps, taps, borderType=cv2.BORDER_CONSTANT)
    win = b64[py - 2 : py + 3, px - 2 : px + 3].ravel()[[12, 11, 13, 10, 14, 7, 17, 2, 22, 6, 8, 16, 18]]
    if np.all(win >= 1e-9):
        return None  # the double path: no clamp possible, no float32 log
    b = b64.astype(np.float32)
    with np.errstate(all="ignore"):
        b *= score / b.max()
        L = np.log(np.maximum(b, np.float32(1e-10)).astype(np.float64)).astype(np.float32).astype(np.float64)
        return _taylor_from_logs(L, px, py)


def assert_matches_numpy(hm, coords, scores, method="dark", blur_kernel=11, tol=TOL_HM_PX, what="",
                         oracle=decode.decode_heatmaps):
    """Kernel output (heatmap px) against the NumPy decoder (or the per-joint reference
    ``oracle``): same NaN pattern, identical scores, coordinates within tol. The one allowance:
    a DARK map on the float32 path whose result differs from the oracle's may instead match
    the same computation with a correctly rounded float32 log (see
    dark_float32_path_correctly_rounded_log); such maps must be rare (<= 2 %)."""
    np_coords, np_scores = oracle(hm, method, blur_kernel)
    err = np.abs(coords.astype(np.float64) - np_coords.astype(np.float64)).max(axis=-1)
    off = np.argwhere(err > tol)
    if method == "dark" and off.size:
        flat = np.asarray(hm).reshape(-1, *np.shape(hm)[2:])
        fixed = np_coords.copy()
        for a, b in off:
            alt = dark_float32_path_correctly_rounded_log(flat[a * hm.shape[1] + b], blur_kernel)
            if alt is not None:
                fixed[a, b] = alt
        assert len(off) <= max(1, coords[..., 0].size // 50), f"{what}: {len(off)} maps off the NumPy decoder"
        np_coords = fixed
    _assert_same(coords, scores, np_coords, np_scores, tol=tol, what=what)


# ---------------------------------------------------------------------------------------------
# the host build and the Python side agree on the contract
# ---------------------------------------------------------------------------------------------
def test_layout_constants_match_python(lib):
    """The by-value parameter struct, the view chunk and the shared-memory formula are written
    twice (decode_heatmaps.cuh for the kernel, cuda_build.py for pycuda): they must agree, or
    the GPU would read garbage parameters or overrun its shared memory."""
    assert lib.agma_host_params_size() == cuda_build.PARAMS_SIZE == 424
    assert lib.agma_host_max_views() == cuda_build.MAX_VIEWS
    assert lib.agma_host_max_blur_kernel() == cuda_build.MAX_BLUR_KERNEL
    for method in ("dark", "standard"):
        for h, w, t in [(96, 72, 256), (64, 48, 128), (5, 7, 1), (96, 72, 1024)]:
            assert lib.agma_host_shared_bytes(int(method == "dark"), h, w, t) == cuda_build.shared_bytes(method, h, w, t)


def test_default_launch_fits_the_default_shared_memory():
    """96x72 DARK at 256 threads must fit the 48 KiB every CUDA device gives without opt-in."""
    cfg = cuda_build.launch_config("dark", 2, J, H, W)
    assert cfg.grid == (34, 1, 1) and cfg.block == (256, 1, 1)
    assert cfg.shared_bytes <= 48 * 1024


def test_half_conversion_is_exact_for_every_bit_pattern(lib):
    """The float16 load (integer conversion on the host; one cvt on the device) must equal
    NumPy's float16 -> float32 for all 65536 patterns: subnormals, infinities, NaN."""
    bits = np.arange(65536, dtype=np.uint16)
    want = bits.view(np.float16).astype(np.float32)
    conv = lib.agma_host_half_to_float
    got = np.array([conv(int(b)) for b in bits], dtype=np.float32)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))


# ---------------------------------------------------------------------------------------------
# the shared reference fixture (outputs of the published reference code)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,key", [("dark", "dark_coords_hm"), ("standard", "std_coords_hm")])
def test_fixture_heatmap_px(fixture, method, key):
    """Against the reference code itself and the NumPy decoder on its 68 maps of 21 kinds:
    coordinates where the reference decodes (positive maximum), NaN where it writes its (0, 0)
    sentinel, scores equal to its maxvals."""
    hm = fixture["heatmaps"]
    coords, scores = host_decoder.decode_heatmaps(hm, method)
    maxvals = fixture["dark_maxvals"][..., 0]
    ref = np.where((maxvals > 0)[..., None], fixture[key], np.nan).astype(np.float32)
    _assert_same(coords, scores, ref, maxvals, what=f"{method} vs reference")
    assert_matches_numpy(hm, coords, scores, method, what=f"{method} vs NumPy decoder")


@pytest.mark.parametrize(
    "method,preds_key,affine_key",
    [("dark", "dark_preds", "affine_inv_dark"), ("standard", "std_preds", "affine_inv_hrnet")],
)
def test_fixture_image_px_through_the_reference_affines(fixture, method, preds_key, affine_key):
    """The kernel's affine step (per view, by value in the launch parameters) against the
    reference's image-pixel predictions for the three crop settings: within 1e-3 heatmap px
    scaled by each view's heatmap->image magnification, plus float32 rounding."""
    hm = fixture["heatmaps"]
    valid = fixture["dark_maxvals"][..., 0] > 0
    for s in range(fixture[affine_key].shape[0]):
        mats = fixture[affine_key][s]  # (4, 2, 3)
        out = host_decoder.decode_raw(hm, mats, method)
        want = fixture[preds_key][s]
        mag = np.abs(mats[:, :, :2]).sum(axis=2).max(axis=1)  # (4,) px per heatmap px
        tol = (TOL_HM_PX * mag)[:, None] + 4 * np.spacing(np.abs(want).max(axis=-1).astype(np.float32))
        err = np.abs(out[..., :2].astype(np.float64) - want).max(axis=-1)
        assert np.all(err[valid] <= tol[valid]), f"setting {s}: worst {err[valid].max():.3g}"
        assert np.all(np.isnan(out[..., :2][~valid]))
        assert np.array_equal(out[..., 2], fixture["dark_maxvals"][..., 0])


# ---------------------------------------------------------------------------------------------
# seeded random maps
# ---------------------------------------------------------------------------------------------
def random_maps(seed: int, n: int = 4, h: int = H, w: int = W) -> np.ndarray:
    """(n, 17, h, w) float32: a Gaussian of sigma 1.5-3.5 at a sub-pixel centre (some near or
    past the border), amplitude 0.05-1.2, Gaussian noise up to 0.05, a baseline that is often
    negative, sometimes a second peak."""
    rng = np.random.default_rng(seed)
    maps = np.empty((n, J, h, w), dtype=np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    for a in range(n):
        for b in range(J):
            sigma = rng.uniform(1.5, 3.5)
            if rng.random() < 0.2:  # near or past the border
                cx, cy = rng.uniform(-2.0, w + 1.0), rng.choice([rng.uniform(-2.0, 4.0), rng.uniform(h - 5.0, h + 1.0)])
            else:
                cx, cy = rng.uniform(2.0, w - 3.0), rng.uniform(2.0, h - 3.0)
            amp = rng.uniform(0.05, 1.2)
            m = amp * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
            if rng.random() < 0.3:
                m += rng.uniform(0.2, 0.9) * amp * np.exp(
                    -((xx - rng.uniform(0, w)) ** 2 + (yy - rng.uniform(0, h)) ** 2) / (2 * sigma**2))
            m += rng.uniform(-0.2, 0.05)
            m += rng.normal(0.0, rng.uniform(0.0, 0.05), m.shape)
            maps[a, b] = m
    return maps


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("method", ["dark", "standard"])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_maps_match_numpy(method, dtype, seed):
    """Seeded realistic and awkward maps, float32 and float16 (the engine's FP16 output read
    as it is), against the NumPy decoder and the per-joint reference implementation."""
    hm = random_maps(seed).astype(dtype)
    coords, scores = host_decoder.decode_heatmaps(hm, method)
    assert_matches_numpy(hm, coords, scores, method, what=f"{method} {np.dtype(dtype)} vs NumPy")
    assert_matches_numpy(hm, coords, scores, method, what=f"{method} {np.dtype(dtype)} vs reference",
                         oracle=decode_reference.decode_heatmaps_reference)


def test_other_map_sizes_and_blur_kernels():
    """H, W and the blur kernel are launch parameters, not constants: a 64x48 and an odd 37x29
    map, kernels 3 (OpenCV's fixed table), 7 and 15 (computed taps)."""
    for shape, k, seed in [((64, 48), 3, 3), ((37, 29), 7, 4), ((64, 48), 15, 5)]:
        hm = random_maps(seed, n=2, h=shape[0], w=shape[1])
        coords, scores = host_decoder.decode_heatmaps(hm, "dark", blur_kernel=k)
        assert_matches_numpy(hm, coords, scores, "dark", k, what=f"{shape} k={k}")


# ---------------------------------------------------------------------------------------------
# degenerate kinds
# ---------------------------------------------------------------------------------------------
def degenerate_maps() -> tuple[np.ndarray, list[str]]:
    """(n, 17, H, W) maps of the kinds that break naive decoders, one per joint slot."""
    kinds: list[tuple[str, np.ndarray]] = []
    zero = np.zeros((H, W), np.float32)
    kinds.append(("zeros", zero.copy()))
    kinds.append(("constant_positive", np.full((H, W), 0.5, np.float32)))
    kinds.append(("constant_negative", np.full((H, W), -0.5, np.float32)))
    kinds.append(("all_negative_peak", random_maps(7, n=1)[0, 0] - 2.0))
    for x, y in [(0, 0), (1, 40), (2, 2), (W - 3, H - 3), (W - 2, 50), (W - 1, H - 1), (30, 1), (30, H - 2),
                 (2, H - 3), (W - 3, 2)]:
        m = zero.copy()
        m[y, x] = 1.0
        if 0 < x < W - 1:
            m[y, x + 1] = 0.6
            m[y, x - 1] = 0.3
        if 0 < y < H - 1:
            m[y - 1, x] = 0.5
        kinds.append((f"spike_{x}_{y}", m))
    tie = zero.copy()
    tie[40, 20] = tie[40, 50] = tie[60, 10] = 0.9  # first in row-major order: (20, 40)
    kinds.append(("three_way_tie", tie))
    tie_cols = zero.copy()
    tie_cols[30, 40] = tie_cols[30, 39] = 0.7  # same row: x = 39 first
    kinds.append(("tie_same_row", tie_cols))
    plateau = zero.copy()
    plateau[40:43, 30:33] = 1.0  # flat top
    kinds.append(("plateau", plateau))
    tiny = decode.encode(np.array([[35.3, 47.6]]), sigma=2.0)[0] * np.float32(1e-30)
    kinds.append(("tiny_amplitude", tiny.astype(np.float32)))  # the blur underflows: the clamp bites
    huge = decode.encode(np.array([[20.7, 60.2]]), sigma=2.5)[0] * np.float32(1e30)
    kinds.append(("huge_amplitude", huge.astype(np.float32)))
    lone = zero.copy()
    lone[50, 36] = 1e-3  # a single positive pixel: log(1e-10) almost everywhere
    kinds.append(("single_pixel", lone))
    neg_ring = decode.encode(np.array([[36.0, 48.0]]), sigma=1.5)[0] - np.float32(0.9)
    neg_ring[48, 36] = 0.05  # positive maximum, blurred map negative everywhere
    kinds.append(("positive_max_negative_blur", neg_ring.astype(np.float32)))
    names = [k for k, _ in kinds]
    n_views = -(-len(kinds) // J)
    maps = np.zeros((n_views, J, H, W), np.float32)
    for i, (_, m) in enumerate(kinds):
        maps[i // J, i % J] = m
    return maps, names


@pytest.mark.parametrize("method", ["dark", "standard"])
def test_degenerate_kinds(method):
    """Zeros, constants, negatives, maxima on and next to every border, exact ties (first in
    row-major order wins), a flat top, amplitudes that underflow and that are huge, a lone
    pixel, a positive maximum whose blurred map is negative everywhere."""
    hm, _ = degenerate_maps()
    coords, scores = host_decoder.decode_heatmaps(hm, method)
    assert_matches_numpy(hm, coords, scores, method, what=f"degenerate {method}")
    assert_matches_numpy(hm, coords, scores, method, what=f"degenerate {method} vs reference",
                         oracle=decode_reference.decode_heatmaps_reference)
    # Spot checks that do not depend on any other implementation.
    assert np.isnan(coords[0, 0]).all() and scores[0, 0] == 0.0  # zeros
    assert np.isnan(coords[0, 2]).all() and scores[0, 2] == np.float32(-0.5)  # constant negative
    assert np.array_equal(coords[0, 1], [0.0, 0.0])  # constant positive: first pixel, border


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_nan_in_a_map_is_its_maximum(dtype):
    """As np.argmax and np.max: the first NaN is the maximum and the score; not > 0, so the
    coordinates are NaN too."""
    hm = random_maps(11, n=1).astype(dtype)
    hm[0, 3, 10, 10] = np.nan
    hm[0, 3, 50, 50] = np.nan
    coords, scores = host_decoder.decode_heatmaps(hm, "dark")
    assert_matches_numpy(hm, coords, scores, "dark", what="NaN map")
    assert np.isnan(scores[0, 3]) and np.isnan(coords[0, 3]).all()


def test_float16_extremes():
    """float16 subnormals, the largest finite value and negative zero as maxima."""
    hm = np.zeros((1, J, H, W), np.float16)
    hm[0, 0, 40, 30] = np.float16(6e-8)  # smallest subnormal
    hm[0, 1] = decode.encode(np.array([[33.4, 44.8]]), sigma=2.0)[0].astype(np.float16) * np.float16(65504)
    hm[0, 2] = np.float16(-0.0)
    for method in ("dark", "standard"):
        coords, scores = host_decoder.decode_heatmaps(hm, method)
        assert_matches_numpy(hm, coords, scores, method, what=f"float16 extremes {method}")


# ---------------------------------------------------------------------------------------------
# launch configuration, chunking, affines
# ---------------------------------------------------------------------------------------------
def test_results_do_not_depend_on_the_block_size():
    """The kernel honours any block size (powers of two or not, below and above a warp): the
    per-pixel arithmetic is the same and max/argmax are order-independent, so the output is
    bit-identical whatever the launch."""
    hm = np.concatenate([random_maps(21, n=1), degenerate_maps()[0][:1]], axis=0)
    mats = host_decoder.identity_affines(hm.shape[0])
    for method in ("dark", "standard"):
        base = host_decoder.decode_raw(hm, mats, method, threads=256)
        for threads in (1, 7, 32, 33, 100, 512):
            out = host_decoder.decode_raw(hm, mats, method, threads=threads)
            assert np.array_equal(out, base, equal_nan=True), f"{method}, {threads} threads"


def test_image_px_per_view_crops_and_chunked_launches():
    """Ten views (more than one launch's eight) with ten different crops of both conventions:
    each view's affine, passed by value in its launch's parameters, reaches its own heatmaps.
    The kernel's image px equal its heatmap px mapped by that view's hm_to_img in float64 (to
    float32 rounding), and the heatmap px match the NumPy decoder."""
    rng = np.random.default_rng(5)
    hm = random_maps(31, n=10)
    crops = []
    for i in range(10):
        box = (rng.uniform(0, 600), rng.uniform(0, 300), rng.uniform(150, 700), rng.uniform(150, 420))
        crops.append(crop_from_box(*box, convention="dark" if i % 2 == 0 else "hrnet"))
    for method in ("dark", "standard"):
        uv, scores = host_decoder.decode_to_image(hm, crops, method)
        coords, hm_scores = host_decoder.decode_heatmaps(hm, method)
        assert np.array_equal(scores, hm_scores)
        assert_matches_numpy(hm, coords, scores, method, what=f"{method} ten views")
        for v, crop in enumerate(crops):
            a = crop.hm_to_img
            want = coords[v].astype(np.float64) @ a[:, :2].T + a[:, 2]
            assert np.array_equal(np.isnan(uv[v]), np.isnan(want))
            ok = ~np.isnan(want)
            np.testing.assert_allclose(uv[v][ok], want[ok], rtol=2e-7, atol=1e-4, err_msg=f"{method} view {v}")
        # And through the NumPy entry point, for the maps the float32 log does not make ambiguous.
        np_uv, _ = decode.decode_to_image(hm, crops, method)
        close = np.abs(np.nan_to_num(uv - np_uv)).max(axis=-1)
        mag = np.array([np.abs(c.hm_to_img[:, :2]).sum(axis=1).max() for c in crops])[:, None]
        assert np.count_nonzero(close > TOL_HM_PX * mag + 1e-3) <= 1


def test_caller_array_is_not_modified():
    hm = random_maps(41, n=1)
    before = hm.copy()
    host_decoder.decode_heatmaps(hm, "dark")
    assert np.array_equal(hm, before)


def test_too_little_shared_memory_is_refused(lib):
    """The harness refuses a launch below AGMA_SHARED_BYTES instead of letting the kernel write
    past its buffer (the shim also checks guard bytes after every launch)."""
    hm = np.zeros((1, J, 8, 8), np.float32)
    out = np.empty((1, J, 3), np.float32)
    mats = host_decoder.identity_affines(1)
    need = cuda_build.shared_bytes("dark", 8, 8, 32)
    rc = lib.agma_host_decode(hm.ctypes.data, 0, 0, 1, J, 8, 8, mats.ctypes.data, 11, 32, need - 4,
                              out.ctypes.data)
    assert rc != 0
    assert b"shared_bytes" in lib.agma_host_last_error()
    rc = lib.agma_host_decode(hm.ctypes.data, 0, 0, 1, J, 8, 8, mats.ctypes.data, 11, 32, need,
                              out.ctypes.data)
    assert rc == 0, lib.agma_host_last_error()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError):
        host_decoder.decode_heatmaps(np.zeros((1, J, H, W), np.float64), "dark")
    with pytest.raises(ValueError):
        host_decoder.decode_heatmaps(np.zeros((1, J, H, W), np.float32), "dark", blur_kernel=10)
    with pytest.raises(ValueError):
        host_decoder.decode_heatmaps(np.zeros((1, J, H, W), np.float32), "fancy")
