"""The flip-test merge kernel (appliance/pose/cuda/merge_flip.cuh), built for the host through
the CUDA host shim and launched with the GPU path's own packing and launch configuration,
against the NumPy merge the host path runs (Preprocessor.merge).

Why: on the TensorRT path the heatmaps stay on the GPU and the flip test's merge runs there as
a kernel; without a GPU in CI, the kernel's source must still be proved to be the same
arithmetic as ``(hm[:n] + flip_back(hm[n:], convention)) * 0.5`` -- mirror, left/right joint
swap, HRNet's one-column shift keeping column 0, float32 rounding, and for float16 maps
NumPy's float16 sum -- for both pixel conventions. IEEE operations in the same order give the
same bits, so the check is bit-identity (which is stronger than the 1e-6 it must meet), plus an
element-wise oracle written from the references' rule rather than from flip_back.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance import joints
from appliance.pose import crop as crop_mod
from appliance.pose.crop import crop_from_box
from appliance.pose.cuda import build as cuda_build, host_decoder
from appliance.pose.preprocess import CropPolicy, Preprocessor
from tests.pose.test_cuda_host_parity import random_maps

J = 17
CONVENTIONS = ("dark", "hrnet")


@pytest.fixture(scope="module")
def lib():
    return host_decoder.load_library()


def numpy_merge(hm: np.ndarray, convention: str) -> np.ndarray:
    """The host path's merge, as HeatmapPoseStage runs it (float16 sums may overflow to inf)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return Preprocessor(CropPolicy(convention=convention), flip_test=True).merge(hm)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-identical, NaN where NaN (any payload)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint32), b[~nan].view(np.uint32)))


def test_layout_constants_match_the_source(lib):
    """The parameter block packed in Python is the struct the kernel reads; the conventions and
    the joint permutation are the ones the host path uses."""
    assert lib.agma_host_merge_params_size() == cuda_build.MERGE_PARAMS_SIZE == 168
    assert lib.agma_host_merge_max_joints() == cuda_build.MERGE_MAX_JOINTS
    assert set(cuda_build.MERGE_SHIFT) == set(crop_mod.CONVENTIONS)
    assert tuple(cuda_build.flip_permutation(J)) == joints.flip_permutation()
    assert cuda_build.flip_permutation(5) == [0, 2, 1, 4, 3]  # only the pairs that exist


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_float32_maps_are_merged_exactly_as_numpy(convention):
    """Both views with their mirrors (the pipeline's batch of 4), realistic maps and plain noise:
    bit-identical to Preprocessor.merge, so certainly within 1e-6."""
    for hm in (random_maps(3, n=4), np.random.default_rng(4).normal(0.0, 1.0, (4, J, 96, 72)).astype(np.float32)):
        got = host_decoder.merge_flip(hm, convention)
        want = numpy_merge(hm, convention)
        assert got.shape == (2, J, 96, 72) and got.dtype == np.float32
        assert np.abs(got - want).max() <= 1e-6
        assert _same(got, want)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_elementwise_oracle_from_the_rule(convention):
    """Not through flip_back: every element of a map that encodes its own (view, joint, row,
    column) is the mean of the view's element and the mirror's element at joint perm[j], row y,
    column W-1-x ("dark") or W-1-max(x-1, 0) ("hrnet": shifted right, column 0 kept)."""
    n, h, w = 2, 6, 5
    v, j, y, x = np.meshgrid(np.arange(2 * n), np.arange(J), np.arange(h), np.arange(w), indexing="ij")
    hm = (v * 1000 + j * 50 + y * 7 + x).astype(np.float32)
    got = host_decoder.merge_flip(hm, convention)
    perm = joints.flip_permutation()
    for ov in range(n):
        for jj in range(J):
            for yy in range(h):
                for xx in range(w):
                    xm = max(xx - 1, 0) if convention == "hrnet" else xx
                    mirror = hm[n + ov, perm[jj], yy, w - 1 - xm]
                    assert got[ov, jj, yy, xx] == (hm[ov, jj, yy, xx] + mirror) * np.float32(0.5)


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_float16_maps_round_their_sum_as_numpy(convention):
    """An FP16 engine's maps read as float16: NumPy adds them in float16 (rounded to nearest
    even) and halves in float32; so does the kernel. Noise whose sums round, the largest finite
    float16 (the sum overflows to inf), subnormals, -0, inf and NaN."""
    rng = np.random.default_rng(5)
    hm = rng.normal(0.0, 0.3, (4, J, 96, 72)).astype(np.float16)
    flat = hm.reshape(-1)
    special = np.array([65504, -65504, 6e-8, -6e-8, 1e-7, -0.0, np.inf, -np.inf, np.nan, 0.5, 1.0, 2049.0],
                       dtype=np.float16)
    flat[: flat.size // 2 : 97] = np.resize(special, flat[: flat.size // 2 : 97].size)
    flat[flat.size // 2 :: 89] = np.resize(special[::-1], flat[flat.size // 2 :: 89].size)
    want = numpy_merge(hm, convention)
    assert want.dtype == np.float32  # NumPy >= 2: float16 map * np.float32(0.5) is float32
    got = host_decoder.merge_flip(hm, convention)
    assert _same(got, want)
    assert np.isinf(got).any() and np.isnan(got).any()  # the specials did meet their mirrors
    # The float16 rounding of the sum matters: summing in float32 would differ somewhere.
    with np.errstate(invalid="ignore"):
        unrounded = (hm[:2].astype(np.float32) + crop_mod.flip_back(hm[2:], convention).astype(np.float32)) * 0.5
    assert not _same(got, unrounded.astype(np.float32))


def test_float_to_half_rounding_matches_numpy(lib):
    """The kernel's float -> float16 rounding off the device (integer arithmetic; one cvt.rn
    instruction on it): every float16 value, the midpoints between neighbours (ties to even),
    one ulp either side of them, the overflow threshold, the subnormal range and random bits."""
    halves = np.arange(65536, dtype=np.uint16).view(np.float16)
    finite = np.sort(halves[np.isfinite(halves)].astype(np.float32))
    mids = ((finite[:-1].astype(np.float64) + finite[1:]) / 2).astype(np.float32)
    near = np.concatenate([mids, np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(-np.inf))])
    rng = np.random.default_rng(6)
    rand = rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    edges = np.array([65504, 65519.99, 65520, 65536, 1e9, 2.0**-24, 2.0**-25, 2.0**-25 * 1.0000001, 2.0**-26,
                      1e-30, 0.0, -0.0, np.inf, -np.inf, np.nan], dtype=np.float32)
    values = np.concatenate([finite, near, rand, edges, -edges]).astype(np.float32)
    out = np.empty(values.size, np.uint16)
    lib.agma_host_float_to_half_array(values.ctypes.data, out.ctypes.data, values.size)
    with np.errstate(over="ignore"):
        want = values.astype(np.float16)
    got = out.view(np.float16)
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got[~nan].view(np.uint16), want[~nan].view(np.uint16))


def test_other_shapes_batches_and_joint_counts():
    """Shape is a launch parameter: one view (a batch of 2), four views (8), odd widths, one
    column, five joints (only the pairs that exist are swapped)."""
    cases = [((2, J, 96, 72), "dark"), ((8, J, 10, 7), "hrnet"), ((4, 5, 9, 11), "hrnet"), ((4, J, 3, 1), "hrnet"),
             ((4, J, 4, 1), "dark"), ((2, 1, 5, 5), "dark")]
    rng = np.random.default_rng(7)
    for shape, convention in cases:
        hm = rng.normal(size=shape).astype(np.float32)
        assert _same(host_decoder.merge_flip(hm, convention), numpy_merge(hm, convention)), (shape, convention)


def test_result_does_not_depend_on_the_block_size():
    """Any block size covers every element once (the last block's tail threads return)."""
    hm = np.random.default_rng(8).normal(size=(4, J, 12, 9)).astype(np.float32)
    base = host_decoder.merge_flip(hm, "hrnet", threads=256)
    for threads in (1, 7, 32, 100, 1024):
        assert _same(host_decoder.merge_flip(hm, "hrnet", threads=threads), base), threads


def test_launch_config_covers_the_output():
    cfg = cuda_build.merge_launch_config((4, J, 96, 72))
    assert cfg.block == (256, 1, 1) and cfg.shared_bytes == 0
    assert cfg.grid == (-(-2 * J * 96 * 72 // 256), 1, 1) == (918, 1, 1)
    assert cuda_build.merge_launch_config((2, 1, 1, 3), threads=2).grid == (2, 1, 1)


def test_caller_array_is_not_modified():
    hm = random_maps(9, n=2)
    before = hm.copy()
    host_decoder.merge_flip(hm, "hrnet")
    assert np.array_equal(hm, before)


def test_merged_maps_decode_as_the_host_path():
    """The pipeline's use: merge then decode; the kernel pair equals NumPy's merge followed by the
    same decoder, for per-view crops of both conventions."""
    hm = random_maps(10, n=4)
    for convention in CONVENTIONS:
        crops = [crop_from_box(100, 40, 420, 560, convention=convention),
                 crop_from_box(620, 60, 400, 540, convention=convention)]
        got = host_decoder.decode_to_image(host_decoder.merge_flip(hm, convention), crops, "dark")
        want = host_decoder.decode_to_image(numpy_merge(hm, convention), crops, "dark")
        for a, b in zip(got, want):
            assert np.array_equal(a, b, equal_nan=True)


def test_bad_arguments_are_refused(lib):
    good = np.zeros((4, J, 8, 8), np.float32)
    for bad, match in [(np.zeros((3, J, 8, 8), np.float32), "even batch"),
                       (np.zeros((0, J, 8, 8), np.float32), "even batch"),
                       (np.zeros((4, 33, 8, 8), np.float32), "joints"),
                       (np.zeros((4, J, 8), np.float32), r"\(N, J, H, W\)")]:
        with pytest.raises(ValueError, match=match):
            host_decoder.merge_flip(bad, "dark")
    with pytest.raises(ValueError, match="convention"):
        host_decoder.merge_flip(good, "mirror")
    with pytest.raises(ValueError, match="float32 or float16"):
        host_decoder.merge_flip(good.astype(np.float64), "dark")
    # The harness itself refuses a grid that does not cover the output.
    out = np.empty((2, J, 8, 8), np.float32)
    params = cuda_build.pack_merge_params(good.ctypes.data, out.ctypes.data, good.shape, "dark")
    assert lib.agma_host_launch_merge_params(b"agma_merge_flip_f32", params, 1, 256) != 0
    assert b"grid" in lib.agma_host_last_error()
