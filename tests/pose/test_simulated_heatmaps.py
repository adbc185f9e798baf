"""The simulated model goes through heatmaps: zero noise is exact with DARK, the standard decoder is not."""
from __future__ import annotations

import numpy as np

from appliance.capture.synthetic import SyntheticSource
from appliance.pose.crop import crop_from_box
from appliance.pose.sim.noise import NoiseParams
from appliance.pose.sim.model import SimulatedHeatmapModel
from appliance.stereo import metrics
from appliance.stereo.stage import triangulate_joints
from appliance.stereo.validity import ValidityRules

CROP = crop_from_box(200, 0, 880, 720)


def _run(decoder, noise=NoiseParams(), n=60, seed=3):
    src = SyntheticSource(seed=seed, n_frames=n, paced=False, render=False)
    model = SimulatedHeatmapModel(CROP, CROP, noise, seed=seed, decoder=decoder)
    est, true, err2d = [], [], []
    for f in src.frames():
        left, right = model.estimate(f)
        xyz, *_ = triangulate_joints(left, right, f.calibration, ValidityRules())
        est.append(xyz)
        true.append(f.truth.xyz_mm)
        err2d += [np.linalg.norm(left.uv_px - f.truth.left_uv_px, axis=-1),
                  np.linalg.norm(right.uv_px - f.truth.right_uv_px, axis=-1)]
    return metrics.accuracy_3d(np.array(est), np.array(true)), np.concatenate(err2d)


def test_zero_noise_dark_is_exact():
    """The crop, encode and DARK decode add almost nothing: <= 0.05 px in 2D, <= 0.5 mm in 3D."""
    acc, err2d = _run("dark")
    assert acc["valid_ratio"] == 1.0
    assert err2d.mean() <= 0.05
    assert acc["mean_mm"] <= 0.5


def test_standard_decoder_at_least_five_times_worse():
    """HRNet's quarter-pixel step quantises at a quarter of 15 image px: the paper's reason for DARK."""
    dark, _ = _run("dark")
    std, _ = _run("standard")
    assert std["mean_mm"] >= 5 * max(dark["mean_mm"], 0.1)


def test_missed_joints_become_low_score():
    """A missed joint has a weak maximum elsewhere: its score falls below stereo.min_score."""
    src = SyntheticSource(seed=1, n_frames=40, paced=False, render=False)
    model = SimulatedHeatmapModel(CROP, CROP, NoiseParams(miss_rate=0.1), seed=1)
    from appliance.pose.sim.noise import draw_errors

    for f in src.frames():
        left, right = model.estimate(f)
        missed = draw_errors(model.noise, 1, f.index).missed
        assert (left.score[missed[0]] < 0.2).all() and (left.score[~missed[0]] > 0.6).all()
        assert (right.score[missed[1]] < 0.2).all()


def test_heatmaps_have_the_model_contract_shape():
    f = SyntheticSource(seed=0, n_frames=1, paced=False, render=False).frame_at(0, 0)
    hm = SimulatedHeatmapModel(CROP, CROP, NoiseParams(), seed=0).heatmaps(f)
    assert hm.shape == (2, 17, 96, 72) and hm.dtype == np.float32
