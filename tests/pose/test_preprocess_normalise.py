"""The network input is exactly the model contract: RGB, /255, ImageNet mean/std, NCHW float32.

A channel-order or normalisation slip does not crash anything, it only makes every joint
worse; so the batch is compared with the contract written out plainly.
"""
from __future__ import annotations

import numpy as np

from appliance.frames import RectifiedCalibration, StereoFrame
from appliance.pose.crop import crop_from_box
from appliance.pose.engine import MODEL_MEAN, MODEL_STD
from appliance.pose.preprocess import CropPolicy, Preprocessor, normalise_into

CAL = RectifiedCalibration(width=640, height=480, fx=500.0, fy=500.0, cx=320.0, cy=240.0, baseline_mm=120.0)


def _frame(rng):
    return StereoFrame(index=0, t_ns=0, left=rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
                       right=rng.integers(0, 256, (480, 640, 3), dtype=np.uint8), calibration=CAL)


def _contract(crop_bgr: np.ndarray) -> np.ndarray:
    rgb = crop_bgr[:, :, ::-1].astype(np.float64) / 255.0
    return ((rgb - np.array(MODEL_MEAN)) / np.array(MODEL_STD)).transpose(2, 0, 1)


def test_normalise_matches_the_contract():
    crop = np.random.default_rng(0).integers(0, 256, (384, 288, 3), dtype=np.uint8)
    out = normalise_into(crop, np.empty((3, 384, 288), np.float32))
    np.testing.assert_allclose(out, _contract(crop), rtol=0, atol=2e-6)


def test_channel_order_is_rgb():
    """A pure-blue BGR image lights up channel 2 (B of RGB) only."""
    blue = np.zeros((384, 288, 3), np.uint8)
    blue[..., 0] = 255
    out = normalise_into(blue, np.empty((3, 384, 288), np.float32))
    np.testing.assert_allclose(out[2], (1 - MODEL_MEAN[2]) / MODEL_STD[2], rtol=1e-6)
    np.testing.assert_allclose(out[0], -MODEL_MEAN[0] / MODEL_STD[0], rtol=1e-6)


def test_batch_holds_both_warped_views_in_order():
    rng = np.random.default_rng(1)
    frame = _frame(rng)
    pre = Preprocessor(CropPolicy(roi_xywh=(100, 40, 300, 400)))
    crops, sources = pre.crops(frame)
    assert sources == ["roi", "roi"]
    batch = pre.batch(frame, crops)
    assert batch.shape == (2, 3, 384, 288) and batch.dtype == np.float32 and batch.flags["C_CONTIGUOUS"]
    want = crop_from_box(100, 40, 300, 400)
    assert crops[0] == want
    np.testing.assert_allclose(batch[0], _contract(want.warp(frame.left)), atol=2e-6)
    np.testing.assert_allclose(batch[1], _contract(want.warp(frame.right)), atol=2e-6)


def test_flip_test_appends_mirrored_views():
    frame = _frame(np.random.default_rng(2))
    pre = Preprocessor(flip_test=True)
    crops, _ = pre.crops(frame)
    batch = pre.batch(frame, crops)
    assert batch.shape == (4, 3, 384, 288)
    np.testing.assert_array_equal(batch[2:], batch[:2, :, :, ::-1])
