"""The comparison core of `agma engine verify` turns two sets of heatmaps into the figures it promises.

Heatmaps are made with the codec's encoder at known sub-pixel positions, and each view's crop maps
one heatmap pixel to exactly 2 image pixels, so a candidate whose joints sit 0.2 heatmap px
from the reference's must come out 0.4 image px away (the DARK decoder recovers the encoder's
centres to well under 0.01 px) -- an expectation that does not come from the code under test.
Thresholds: kp p95 0.5 px, heatmap difference 1 % of the reference's range; undecodable joints
(no positive maximum) in both models are left out; a confident joint decoded by one model only
fails the candidate, however few they are.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from appliance.errors import AgmaError
from appliance.pose.crop import Crop
from appliance.pose.decode import encode
from appliance.pose.engines.verify import compare_heatmaps, keypoint_distances_px

#: 'dark' crop whose source is 143 px wide: (143 - 1) / (72 - 1) = 2 image px per heatmap px.
CROP = Crop(center_px=(300.0, 200.0), scale=(143.0 / 200.0, 143.0 / 200.0 * 4 / 3))
PX_PER_HM = 2.0


def _maps(shift_x_hm: float = 0.0, views: int = 3) -> np.ndarray:
    rng = np.random.default_rng(5)
    joints = np.stack([rng.uniform(10, 60, size=(17,)), rng.uniform(10, 85, size=(17,))], axis=-1)
    coords = np.broadcast_to(joints, (views, 17, 2)).copy()
    coords[..., 0] += shift_x_hm
    return encode(coords).astype(np.float32)


def test_identical_maps_give_zero_and_pass():
    hm = _maps()
    f = compare_heatmaps(hm, hm.copy(), [CROP] * 3)
    assert f.ok and f.failures == ()
    assert (f.heatmap_max_abs, f.heatmap_max_rel, f.kp_px_p50, f.kp_px_p95, f.kp_px_max) == (0.0,) * 5
    assert f.joints == 51 and f.joints_confident == 51 and f.kp_px_max_confident == 0.0


def test_a_sub_pixel_shift_is_measured_in_image_pixels():
    ref = _maps()
    f = compare_heatmaps(ref, _maps(0.2), [CROP] * 3)
    assert f.kp_px_p50 == pytest.approx(0.2 * PX_PER_HM, abs=0.01)
    assert f.kp_px_max == pytest.approx(0.2 * PX_PER_HM, abs=0.01)
    assert f.kp_px_p95_confident == pytest.approx(0.2 * PX_PER_HM, abs=0.01)
    # a Gaussian of amplitude 1 moved by 0.2 px: the largest change is about 0.2 * e^-0.5 / sigma (3)
    expected_abs = 0.2 * math.exp(-0.5) / 3.0
    assert f.heatmap_max_abs == pytest.approx(expected_abs, rel=0.1)
    assert f.heatmap_max_rel == pytest.approx(f.heatmap_max_abs / float(ref.max() - ref.min()))
    assert not f.ok  # 4 % of the range > 1 %, though 0.4 px <= 0.5 px
    assert f.failures and "heatmap difference" in f.failures[0]


def test_the_keypoint_threshold_alone_fails_a_model():
    """0.3 hm px = 0.6 image px > 0.5 px, with thresholds on the heatmap loose enough to pass."""
    f = compare_heatmaps(_maps(), _maps(0.3), [CROP] * 3, max_heatmap_rel=1.0)
    assert f.kp_px_p95 == pytest.approx(0.6, abs=0.01)
    assert not f.ok and len(f.failures) == 1 and "keypoint p95" in f.failures[0]


def test_undecoded_joints_left_out_or_failing():
    ref = _maps()
    ref[:, 4] = -1.0  # no positive maximum: NaN in both models
    f = compare_heatmaps(ref, ref.copy(), [CROP] * 3)
    assert f.ok and f.joints == 48
    cand = ref.copy()
    cand[0, 5] = -1.0  # only the candidate loses joint 5 of view 0
    f = compare_heatmaps(ref, cand, [CROP] * 3, max_heatmap_rel=1.0)
    assert f.kp_px_max == math.inf and f.kp_px_p95 == 0.0  # 1 of 48: not in the p95
    assert not f.ok and f.failures == ("1 joint(s) with reference score >= 0.3 not decoded by one of the models",)
    assert f.as_json()["kp_px_max"] is None  # JSON has no inf


def test_distance_rules():
    nan = np.nan
    d = keypoint_distances_px(np.array([[0.0, 0.0], [nan, nan], [1.0, 1.0]]),
                              np.array([[3.0, 4.0], [nan, nan], [nan, nan]]))
    assert d[0] == 5.0 and math.isnan(d[1]) and d[2] == math.inf


def test_shapes_not_the_contract_are_refused_in_one_line():
    hm = _maps()
    with pytest.raises(AgmaError) as exc:
        compare_heatmaps(hm, hm[:, :16], [CROP] * 3)
    assert "candidate" in str(exc.value) and "17, 96, 72" in str(exc.value) and "\n" not in str(exc.value)
    with pytest.raises(AgmaError, match="3 views' heatmaps, the candidate 2"):
        compare_heatmaps(hm, hm[:2], [CROP] * 3)


def test_json_keys():
    f = compare_heatmaps(_maps(), _maps(), [CROP] * 3).as_json()
    for key in ("heatmap_max_abs", "heatmap_max_rel", "kp_px_p50", "kp_px_p95", "kp_px_max",
                "kp_px_p50_confident", "kp_px_p95_confident", "kp_px_max_confident", "ok"):
        assert key in f
    assert f["ok"] is True
