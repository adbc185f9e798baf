"""decode_to_image: the pipeline's one entry point, through the reference crops and the GPU hook."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from appliance.pose import decode as decode_mod
from appliance.pose.crop import Crop, crop_from_box
from appliance.pose.decode import decode_to_image, encode


@pytest.fixture(scope="module")
def ref(fixtures_dir):
    return np.load(fixtures_dir / "dark_reference_sample.npz")


@pytest.mark.parametrize(
    "method, convention, preds_key, max_key",
    [("dark", "dark", "dark_preds", "dark_maxvals"), ("standard", "hrnet", "std_preds", "std_maxvals")],
)
@pytest.mark.parametrize("setting", [0, 1, 2])
def test_reference_image_coordinates(ref, setting, method, convention, preds_key, max_key):
    """Crops from the fixture's boxes (each repository's own convention) + decode_to_image give
    the references' image coordinates: 1e-3 heatmap px times the crop's pixel scale, plus
    float32 rounding; NaN where the map has no positive maximum."""
    crops = [crop_from_box(*box, convention=convention) for box in ref["boxes_xywh"][setting].astype(float)]
    uv, scores = decode_to_image(ref["heatmaps"], crops, method)
    assert uv.shape == (4, 17, 2) and uv.dtype == np.float32
    np.testing.assert_array_equal(scores, ref[max_key][..., 0])
    positive = scores > 0
    expected = ref[preds_key][setting]
    for i, crop in enumerate(crops):
        tol = 1e-3 * crop.hm_to_img[0, 0] + 2e-4
        err = np.abs(uv[i] - expected[i])[positive[i]]
        assert err.max() <= tol, (i, err.max(), tol)
    assert np.isnan(uv[~positive]).all()


def test_one_crop_for_all_views_and_crop_size_check():
    """A single Crop applies to every view; a crop for another heatmap size is refused."""
    crop = Crop((640.0, 360.0), (4.0, 16.0 / 3.0))
    coords = np.array([[[30.0, 40.0]], [[20.0, 50.0]]])
    uv, _ = decode_to_image(encode(coords), crop)
    np.testing.assert_allclose(uv, crop.heatmap_to_image(coords), atol=1e-3)
    with pytest.raises(ValueError):
        decode_to_image(encode(coords), [crop])
    with pytest.raises(ValueError):
        decode_to_image(encode(coords), Crop((640.0, 360.0), (4.0, 5.0), heatmap_wh=(48, 64)))


class _DeviceBuffer:
    """Stands in for a device-side heatmap buffer that decodes itself (a later issue)."""

    def __init__(self):
        self.calls = []

    def decode_to_image(self, crops, method, blur_kernel):
        self.calls.append((crops, method, blur_kernel))
        return "device-result"


def test_device_objects_decode_themselves_and_paths_are_logged_once(monkeypatch, caplog):
    """A non-NumPy object with decode_to_image gets the call with the same arguments; each
    path is logged once per process on logger appliance.pose.decode."""
    monkeypatch.setattr(decode_mod, "_logged_paths", set())
    caplog.set_level(logging.INFO, logger="appliance.pose.decode")
    buf = _DeviceBuffer()
    crop = Crop((640.0, 360.0), (4.0, 16.0 / 3.0))
    for _ in range(3):
        assert decode_to_image(buf, [crop], "standard", 7) == "device-result"
    assert buf.calls == [([crop], "standard", 7)] * 3
    hm = encode(np.array([[[30.0, 40.0]]]))
    for _ in range(3):
        decode_to_image(hm, [crop])
    messages = [r.getMessage() for r in caplog.records if r.name == "appliance.pose.decode"]
    assert sum("device" in m for m in messages) == 1
    assert sum("numpy" in m for m in messages) == 1


def test_numpy_arrays_never_dispatch(monkeypatch):
    """An ndarray subclass with a decode_to_image attribute still decodes on the host."""

    class Weird(np.ndarray):
        def decode_to_image(self, *a):  # pragma: no cover - must not be called
            raise AssertionError("dispatched an ndarray")

    hm = encode(np.array([[[30.0, 40.0]]])).view(Weird)
    uv, _ = decode_to_image(hm, [Crop((640.0, 360.0), (4.0, 16.0 / 3.0))])
    assert np.isfinite(uv).all()
