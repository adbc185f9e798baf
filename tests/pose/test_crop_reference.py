"""Crop placement and heatmap->image matrices against the reference code's own outputs."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.pose.crop import Crop, crop_from_box


@pytest.fixture(scope="module")
def ref(fixtures_dir):
    return np.load(fixtures_dir / "dark_reference_sample.npz")


def test_box_to_center_scale_matches_reference(ref):
    """crop_from_box follows the reference _xywh2cs (centre at (w-1)/2, 3:4 aspect fix, 1.25
    padding, /200): every fixture box gives the fixture's center and scale."""
    boxes = ref["boxes_xywh"].reshape(-1, 4).astype(np.float64)
    centers = ref["center"].reshape(-1, 2)
    scales = ref["scale"].reshape(-1, 2)
    for box, center, scale in zip(boxes, centers, scales):
        for convention in ("dark", "hrnet"):
            crop = crop_from_box(*box, convention=convention)
            np.testing.assert_allclose(crop.center_px, center, rtol=1e-6, atol=1e-4)
            np.testing.assert_allclose(crop.scale, scale, rtol=1e-6)
            assert crop.convention == convention


def test_hand_computed_box():
    """An 880x720 box at the origin: centre (439.5, 359.5); 880 > 0.75*720 so the height grows
    to 880/0.75; scale = 1.25 * (880, 1173.33) / 200 = (5.5, 7.333)."""
    crop = crop_from_box(0.0, 0.0, 880.0, 720.0)
    assert crop.center_px == (439.5, 359.5)
    np.testing.assert_allclose(crop.scale, (5.5, 1.25 * 880.0 / 0.75 / 200.0), rtol=1e-12)


@pytest.mark.parametrize("convention, key", [("dark", "affine_inv_dark"), ("hrnet", "affine_inv_hrnet")])
def test_hm_to_img_is_the_reference_transform_preds_matrix(ref, convention, key):
    """Each convention's heatmap->image matrix is the one its repository uses in
    transform_preds. The reference builds it from float32 points, so its translation carries
    float32 rounding (~1e-6 px at 1000 px): agree to 1e-5 image px."""
    centers = ref["center"].reshape(-1, 2)
    scales = ref["scale"].reshape(-1, 2)
    expected = ref[key].reshape(-1, 2, 3)
    for center, scale, mat in zip(centers, scales, expected):
        crop = Crop(center_px=center, scale=scale, convention=convention)
        assert crop.hm_to_img.shape == (2, 3) and crop.hm_to_img.dtype == np.float64
        np.testing.assert_allclose(crop.hm_to_img, mat, rtol=1e-7, atol=1e-5)


def test_dark_and_hrnet_differ_as_documented():
    """"size - 1" vs "size * 0.5": at scale 200*sx = 1100 px the pixel scales are 1099/71 and
    1100/72, and the heatmap centre pixel maps to the crop centre in each own way."""
    center = (439.5, 359.5)
    dark = Crop(center, (5.5, 7.0), convention="dark")
    hrnet = Crop(center, (5.5, 7.0), convention="hrnet")
    assert dark.hm_to_img[0, 0] == pytest.approx(1099.0 / 71.0, rel=1e-12)
    assert hrnet.hm_to_img[0, 0] == pytest.approx(1100.0 / 72.0, rel=1e-12)
    np.testing.assert_allclose(dark.heatmap_to_image(np.array([35.5, 47.5])), center, atol=1e-9)
    np.testing.assert_allclose(hrnet.heatmap_to_image(np.array([36.0, 48.0])), center, atol=1e-9)
