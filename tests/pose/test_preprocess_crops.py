"""Each view's crop follows the infant, and falls back to the warmer ROI when it cannot.

The crop decides how many image pixels a heatmap pixel covers (the paper's 1.7 cm rests on
it), so: the ROI (or the whole image) on the first frame, a box around the previous frame's
confident joints afterwards, and back to the ROI when too few joints are confident, the
keypoints are NaN, or the tracked box collapses.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.frames import Keypoints2D, RectifiedCalibration, StereoFrame
from appliance.pose.crop import crop_from_box
from appliance.pose.preprocess import CropPolicy, Preprocessor, roi_crop, tracked_crop

CAL = RectifiedCalibration(width=1280, height=720, fx=530.0, fy=530.0, cx=640.0, cy=360.0, baseline_mm=120.0)
FRAME = StereoFrame(index=0, t_ns=0, left=np.zeros((720, 1280, 3), np.uint8),
                    right=np.zeros((720, 1280, 3), np.uint8), calibration=CAL)
WARMER = (200.0, 0.0, 880.0, 720.0)  # the paper's 880x720 warmer region


def _kp(uv, score=0.9):
    uv = np.asarray(uv, np.float32)
    return Keypoints2D(uv_px=uv, score=np.full(17, score, np.float32))


def _body(cx=640.0, cy=360.0, spread=120.0, seed=0):
    rng = np.random.default_rng(seed)
    return np.stack([cx + rng.uniform(-spread * 0.6, spread * 0.6, 17),
                     cy + rng.uniform(-spread, spread, 17)], axis=1)


def test_first_frame_uses_the_roi_or_the_whole_image():
    crops, sources = Preprocessor(CropPolicy(roi_xywh=WARMER)).crops(FRAME)
    assert sources == ["roi", "roi"] and crops[0] == crop_from_box(*WARMER)
    crops, _ = Preprocessor().crops(FRAME)
    assert crops[0] == crop_from_box(0, 0, 1280, 720) == roi_crop((1280, 720), None)


def test_right_view_roi_override():
    right_roi = (120.0, 0.0, 880.0, 720.0)  # shifted by the disparity
    crops, _ = Preprocessor(CropPolicy(roi_xywh=WARMER, roi_right_xywh=right_roi)).crops(FRAME)
    assert crops[0] == crop_from_box(*WARMER) and crops[1] == crop_from_box(*right_roi)


def test_tracked_crop_contains_every_joint_with_margin():
    uv = _body()
    pre = Preprocessor(CropPolicy(roi_xywh=WARMER, margin=0.15))
    crops, sources = pre.crops(FRAME, (_kp(uv), _kp(uv - [80, 0])))
    assert sources == ["tracked", "tracked"]
    inside = crops[0].image_to_input_px(uv)
    assert (inside[:, 0] > 0.1 * 288).all() and (inside[:, 0] < 0.9 * 288).all()
    assert (inside[:, 1] > 0.1 * 384).all() and (inside[:, 1] < 0.9 * 384).all()
    # tighter than the ROI: more input pixels per image pixel
    assert crops[0].scale[0] < crop_from_box(*WARMER).scale[0]


@pytest.mark.parametrize("case", ["low_scores", "few_joints", "nan", "collapsed", "tracking_off"])
def test_fallback_to_roi(case):
    uv, score = _body(), np.full(17, 0.9, np.float32)
    policy = CropPolicy(roi_xywh=WARMER, min_joints=6, min_score=0.3)
    if case == "low_scores":
        score[:] = 0.1
    elif case == "few_joints":
        score[5:] = 0.0
    elif case == "nan":
        uv[3:] = np.nan
    elif case == "collapsed":
        uv = np.tile([[640.0, 360.0]], (17, 1)) + np.random.default_rng(0).uniform(-2, 2, (17, 2))
    elif case == "tracking_off":
        policy = CropPolicy(roi_xywh=WARMER, track=False)
    kp = Keypoints2D(uv_px=uv.astype(np.float32), score=score)
    assert tracked_crop(kp, policy) is None
    crops, sources = Preprocessor(policy).crops(FRAME, (kp, kp))
    assert sources == ["roi", "roi"] and crops[0] == crop_from_box(*WARMER)


def test_views_fall_back_independently():
    good = _kp(_body())
    bad = Keypoints2D(uv_px=np.full((17, 2), np.nan, np.float32), score=np.zeros(17, np.float32))
    _, sources = Preprocessor(CropPolicy(roi_xywh=WARMER)).crops(FRAME, (good, bad))
    assert sources == ["tracked", "roi"]


def test_convention_travels_into_the_crop():
    crops, _ = Preprocessor(CropPolicy(convention="hrnet")).crops(FRAME, (_kp(_body()),) * 2)
    assert all(c.convention == "hrnet" for c in crops)
