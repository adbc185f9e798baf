"""What decode_heatmaps accepts: float16, float64, odd layouts, read-only arrays; never writes."""
from __future__ import annotations

import numpy as np

from appliance.pose.decode import decode_heatmaps, encode


def _noisy_pair(seed=0):
    rng = np.random.default_rng(seed)
    coords = np.stack([rng.uniform(3, 68, (2, 17)), rng.uniform(3, 92, (2, 17))], axis=-1)
    return (encode(coords) * 0.8 + rng.normal(0, 0.03, (2, 17, 96, 72))).astype(np.float32)


def test_float16_decodes_like_its_float32_value():
    """An FP16 engine's output decodes exactly as the same values in float32 (scores included)."""
    hm16 = _noisy_pair(1).astype(np.float16)
    for method in ("dark", "standard"):
        c16, s16 = decode_heatmaps(hm16, method)
        c32, s32 = decode_heatmaps(hm16.astype(np.float32), method)
        assert c16.dtype == np.float32 and s16.dtype == np.float32
        np.testing.assert_array_equal(c16, c32)
        np.testing.assert_array_equal(s16, s32)


def test_caller_array_is_never_modified():
    """The reference blur overwrites its input; ours must not. A read-only array would raise
    on any write, and the values stay bit-identical."""
    hm = _noisy_pair(2)
    hm[0, 3] = 0.0
    hm[1, 4] *= 1e-12
    before = hm.copy()
    hm.setflags(write=False)
    for method in ("dark", "standard"):
        decode_heatmaps(hm, method)
        hm16 = hm.astype(np.float16)
        decode_heatmaps(hm16, method)
    np.testing.assert_array_equal(hm, before)


def test_non_contiguous_and_float64_inputs():
    """A strided view and a float64 copy give the same answer as the contiguous float32 maps."""
    hm = _noisy_pair(3)
    big = np.zeros((2, 34, 96, 72), np.float32)
    big[:, ::2] = hm
    view = big[:, ::2]
    assert not view.flags.c_contiguous
    for method in ("dark", "standard"):
        ref_c, ref_s = decode_heatmaps(hm, method)
        c, s = decode_heatmaps(view, method)
        np.testing.assert_array_equal(c, ref_c)
        np.testing.assert_array_equal(s, ref_s)
        c64, _ = decode_heatmaps(hm.astype(np.float64), method)
        np.testing.assert_allclose(c64, ref_c, atol=1e-4)


def test_empty_batch():
    """N = 0 (no views this frame) is a valid, empty answer."""
    c, s = decode_heatmaps(np.zeros((0, 17, 96, 72), np.float32))
    assert c.shape == (0, 17, 2) and s.shape == (0, 17)
