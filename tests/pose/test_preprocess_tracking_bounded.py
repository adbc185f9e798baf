"""The tracked crop stays on the image, whatever the network answers.

A network's joints can land outside the image: at the border of a crop that reaches past it,
or anywhere at all for an untrained or confused network. Tracking crops around the previous
frame's joints with a margin and the references' 1.25 padding, so without a bound each frame's
crop was the last one grown x1.6 (or pushed sideways), without end: an untrained HRNet-W4 took
it to 1e38 px within a 6 s recording, which overflowed float32 in decoding. The tracked box is
clipped to the image, and falls back to the ROI when no confident joint lies over the image.
"""
from __future__ import annotations

import numpy as np

from appliance.frames import Keypoints2D, RectifiedCalibration, StereoFrame
from appliance.pose.crop import crop_from_box
from appliance.pose.preprocess import CropPolicy, Preprocessor, tracked_crop

W, H = 1280, 720
CAL = RectifiedCalibration(width=W, height=H, fx=530.0, fy=530.0, cx=640.0, cy=360.0, baseline_mm=120.0)
FRAME = StereoFrame(index=0, t_ns=0, left=np.zeros((H, W, 3), np.uint8), right=np.zeros((H, W, 3), np.uint8),
                    calibration=CAL)
WARMER = (200.0, 0.0, 880.0, 720.0)
WHOLE_IMAGE = crop_from_box(0.0, 0.0, W, H)


def _corners_of(crop):
    """17 confident joints on the four corners of the crop's heatmap: a network answering 'the border'."""
    w, h = crop.heatmap_wh
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    uv = crop.heatmap_to_image(corners[np.arange(17) % 4])
    return Keypoints2D(uv_px=uv.astype(np.float32), score=np.full(17, 0.9, np.float32))


def test_feedback_of_border_joints_does_not_grow_the_crop():
    """200 frames of joints at the crop's corners: the crop never covers more than the whole image's crop."""
    pre = Preprocessor(CropPolicy(roi_xywh=WARMER))
    crops, _ = pre.crops(FRAME)
    for _ in range(200):
        kp = _corners_of(crops[0]), _corners_of(crops[1])
        crops, _ = pre.crops(FRAME, kp)
        for c in crops:
            assert c.scale[0] <= WHOLE_IMAGE.scale[0] + 1e-9 and c.scale[1] <= WHOLE_IMAGE.scale[1] + 1e-9
            assert 0.0 <= c.center_px[0] <= W and 0.0 <= c.center_px[1] <= H


def test_joints_partly_off_the_image_are_clipped_to_it():
    """Joints from x = -300 to 1000: the crop is the one of the box clipped at x = 0 (with the margin)."""
    uv = np.column_stack([np.linspace(-300.0, 1000.0, 17), np.linspace(200.0, 500.0, 17)])
    kp = Keypoints2D(uv_px=uv.astype(np.float32), score=np.full(17, 0.9, np.float32))
    policy = CropPolicy(margin=0.1)
    # box with the margin: x from -300 - 130 to 1000 + 130 -> clipped to [0, 1130]; y 170..530
    assert tracked_crop(kp, policy, (W, H)) == crop_from_box(0.0, 170.0, 1130.0, 360.0)
    # the caller that knows no image keeps the unclipped box (the function's former contract)
    assert tracked_crop(kp, policy) == crop_from_box(-430.0, 170.0, 1560.0, 360.0)


def test_every_joint_beside_the_image_falls_back_to_the_roi():
    """Confident joints all right of the image (the box would lie beyond it): the warmer ROI, not a crop off-image."""
    uv = np.column_stack([np.linspace(1400.0, 1700.0, 17), np.linspace(100.0, 600.0, 17)])
    kp = Keypoints2D(uv_px=uv.astype(np.float32), score=np.full(17, 0.9, np.float32))
    policy = CropPolicy(roi_xywh=WARMER)
    assert tracked_crop(kp, policy, (W, H)) is None
    crops, sources = Preprocessor(policy).crops(FRAME, (kp, kp))
    assert sources == ["roi", "roi"] and crops[0] == crop_from_box(*WARMER)
