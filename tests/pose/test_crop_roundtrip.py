"""The crop's mappings: image <-> heatmap round trips, and the warp agrees with its matrix."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.pose.crop import Crop, crop_from_box


@pytest.mark.parametrize("convention", ["dark", "hrnet"])
def test_image_heatmap_image_round_trip(convention):
    """image -> heatmap -> image returns the same pixels (1e-9 px) for both conventions and
    random boxes; NaN stays NaN (missing joints pass through)."""
    rng = np.random.default_rng(11)
    for _ in range(20):
        x, y = rng.uniform(-100, 1000), rng.uniform(-100, 600)
        w, h = rng.uniform(20, 900), rng.uniform(20, 700)
        crop = crop_from_box(x, y, w, h, convention=convention)
        uv = rng.uniform(-200, 1400, (5, 17, 2))
        uv[0, 3] = np.nan
        hm = crop.image_to_heatmap(uv)
        back = crop.heatmap_to_image(hm)
        np.testing.assert_allclose(back, uv, atol=1e-9)
        assert np.isnan(hm[0, 3]).all() and np.isnan(back[0, 3]).all()
        np.testing.assert_allclose(crop.hm_to_img @ np.vstack([crop.img_to_hm, [0, 0, 1]]),
                                   [[1, 0, 0], [0, 1, 0]], atol=1e-12)


def test_input_and_heatmap_spaces_per_convention():
    """Hand-computed relation between network-input px and heatmap px: "dark" aligns the
    first/last pixel centres (x_hm = (x_in - 143.5) * 71/287 + 35.5), "hrnet" divides by the
    stride 4."""
    pts_in = np.array([[0.0, 0.0], [287.0, 383.0], [143.5, 191.5], [10.0, 300.0]])
    dark = Crop((640.0, 360.0), (4.0, 16.0 / 3.0), convention="dark")
    hm = dark.image_to_heatmap(_apply(dark.input_to_image, pts_in))
    expected = np.c_[(pts_in[:, 0] - 143.5) * 71 / 287 + 35.5, (pts_in[:, 1] - 191.5) * 71 / 287 + 47.5]
    np.testing.assert_allclose(hm, expected, atol=1e-9)
    hrnet = Crop((640.0, 360.0), (4.0, 16.0 / 3.0), convention="hrnet")
    hm = hrnet.image_to_heatmap(_apply(hrnet.input_to_image, pts_in))
    np.testing.assert_allclose(hm, pts_in / 4.0, atol=1e-9)


def _apply(mat, pts):
    return pts @ mat[:, :2].T + mat[:, 2]


@pytest.mark.parametrize("convention", ["dark", "hrnet"])
def test_warp_samples_where_its_matrix_says(convention):
    """Warp an image whose channels hold their own (u, v): bilinear sampling of a linear ramp
    is exact, so each input pixel must hold input_to_image of its own position; and the
    output is (384, 288, 3)."""
    hh, ww = 720, 1280
    vv, uu = np.mgrid[0:hh, 0:ww].astype(np.float32)
    image = np.dstack([uu, vv, np.zeros_like(uu)])
    crop = crop_from_box(300.0, 100.0, 400.0, 500.0, convention=convention)
    out = crop.warp(image)
    assert out.shape == (384, 288, 3) and out.dtype == np.float32
    yi, xi = np.mgrid[0:384, 0:288].astype(np.float64)
    src = _apply(crop.input_to_image, np.dstack([xi, yi]))
    inside = (src[..., 0] >= 1) & (src[..., 0] <= ww - 2) & (src[..., 1] >= 1) & (src[..., 1] <= hh - 2)
    assert inside.mean() > 0.9
    # OpenCV's warp quantises coordinates to 1/32 px (INTER_BITS = 5).
    np.testing.assert_allclose(out[..., 0][inside], src[..., 0][inside], atol=1 / 32 * 2.5)
    np.testing.assert_allclose(out[..., 1][inside], src[..., 1][inside], atol=1 / 32 * 2.5)


def test_crop_is_frozen_and_validated():
    """A Crop is a value: immutable, hashable, and rejects nonsense at construction."""
    crop = Crop((1.0, 2.0), (3.0, 4.0))
    with pytest.raises(AttributeError):
        crop.convention = "hrnet"  # type: ignore[misc]
    assert crop == Crop((1.0, 2.0), (3.0, 4.0)) and hash(crop) == hash(Crop((1.0, 2.0), (3.0, 4.0)))
    assert crop.convention == "dark" and crop.input_wh == (288, 384) and crop.heatmap_wh == (72, 96)
    with pytest.raises(ValueError):
        Crop((1.0, 2.0), (3.0, 4.0), convention="udp")
    with pytest.raises(ValueError):
        Crop((np.nan, 2.0), (3.0, 4.0))
    with pytest.raises(ValueError):
        Crop((1.0, 2.0), (0.0, 4.0))
    with pytest.raises(ValueError):
        crop_from_box(0, 0, 0, 10)
