"""The codec: encode is DarkPose's unbiased target, and DARK decodes it back to sub-pixel truth."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.pose.decode import decode_heatmaps, encode

H, W = 96, 72
MARGIN = 8.0  # blur radius 5 + Taylor reach 2 + rounding: zero padding stays out of reach


def test_encode_shape_amplitude_and_missing():
    """float32 (N, J, H, W); amplitude exactly 1 on an integer centre; the hand-computed value
    one pixel away exp(-1/(2 sigma^2)); a NaN joint gives an all-zero map."""
    coords = np.array([[[10.0, 20.0], [np.nan, 5.0], [30.5, 40.25]]])
    hm = encode(coords, sigma=3.0)
    assert hm.shape == (1, 3, H, W) and hm.dtype == np.float32
    assert hm[0, 0, 20, 10] == 1.0
    assert hm[0, 0, 20, 11] == np.float32(np.exp(-1.0 / 18.0))
    assert hm[0, 0, 21, 11] == np.float32(np.exp(-2.0 / 18.0))
    assert not hm[0, 1].any()
    expected = np.exp(-((np.arange(W) - 30.5)[None, :] ** 2 + (np.arange(H) - 40.25)[:, None] ** 2) / 18.0)
    np.testing.assert_allclose(hm[0, 2], expected, rtol=1e-6, atol=1e-12)


def test_encode_custom_size():
    """heatmap_hw is (H, W)."""
    assert encode(np.zeros((2, 2)), heatmap_hw=(8, 5)).shape == (2, 8, 5)


sub_pixel = st.tuples(
    st.floats(MARGIN, W - 1 - MARGIN, allow_nan=False), st.floats(MARGIN, H - 1 - MARGIN, allow_nan=False)
)


@settings(max_examples=60, deadline=None)
@given(
    pts=st.lists(sub_pixel, min_size=1, max_size=17),
    sigma=st.sampled_from([2.0, 3.0]),
    amplitude=st.sampled_from([1.0, 0.37, 1e-3, 1e-6]),
)
def test_dark_round_trip_is_sub_pixel_exact(pts, sigma, amplitude):
    """encode -> decode (DARK) recovers any sub-pixel location away from the borders to 1e-3
    heatmap px, at any amplitude (the log makes the step scale-free)."""
    coords = np.array([pts], dtype=np.float64)
    hm = encode(coords, sigma=sigma) * np.float32(amplitude)
    decoded, scores = decode_heatmaps(hm, "dark")
    np.testing.assert_allclose(decoded, coords, atol=1e-3)
    assert (scores > 0).all()


@settings(max_examples=40, deadline=None)
@given(pts=st.lists(sub_pixel, min_size=1, max_size=17))
def test_standard_round_trip_is_quarter_pixel(pts):
    """The standard decoder only reaches the quarter-pixel grid: within 0.25 + 0.5 px per axis
    of the truth, and always on that grid."""
    coords = np.array([pts], dtype=np.float64)
    decoded, _ = decode_heatmaps(encode(coords), "standard")
    assert np.all(np.abs(decoded - coords) <= 0.75 + 1e-6)
    np.testing.assert_array_equal(decoded * 4, np.round(decoded * 4))


def test_seeded_round_trip_pair():
    """A seeded full frame pair (2 x 17 joints): DARK error <= 1e-3, standard much worse."""
    rng = np.random.default_rng(2024)
    coords = np.stack([rng.uniform(MARGIN, W - 1 - MARGIN, (2, 17)),
                       rng.uniform(MARGIN, H - 1 - MARGIN, (2, 17))], axis=-1)
    hm = encode(coords)
    dark, _ = decode_heatmaps(hm, "dark")
    std, _ = decode_heatmaps(hm, "standard")
    assert np.abs(dark - coords).max() <= 1e-3
    assert np.abs(std - coords).mean() > 50 * np.abs(dark - coords).mean()
