"""The simulated infant is plausible, deterministic, and its ground truth is consistent with its images."""
from __future__ import annotations

import numpy as np

from appliance.capture.synthetic import SIMULATED_ZED2_HD720 as CAL, InfantMotion, SyntheticSource
from appliance.joints import JOINT_INDEX as J


def _seg(x, a, b):
    return np.linalg.norm(x[:, J[a]] - x[:, J[b]], axis=-1)


def test_bones_keep_their_length_while_limbs_move():
    """Writhing moves the limbs, never stretches them: segment lengths are constant over time."""
    m = InfantMotion(7)
    x = np.stack([m.body_points(t) for t in np.linspace(0, 20, 200)])
    for a, b, length in (("left_shoulder", "left_elbow", 75), ("right_elbow", "right_wrist", 65),
                         ("left_hip", "left_knee", 85), ("right_knee", "right_ankle", 80)):
        d = _seg(x, a, b)
        # the mattress clamp may shorten a segment slightly when a limb touches it
        assert np.all(d <= length + 1e-9) and np.median(d) > length - 1
    assert np.ptp(x[:, J["left_wrist"]], axis=0).max() > 30  # it does move


def test_infant_size_and_distance():
    """About 45 cm long, 60-90 cm below the camera, inside the image."""
    for seed in range(5):
        src = SyntheticSource(seed=seed, n_frames=90, paced=False, render=False)
        for f in src.frames():
            xyz = f.truth.xyz_mm
            assert 600 < xyz[:, 2].min() and xyz[:, 2].max() < 900
            for uv in (f.truth.left_uv_px, f.truth.right_uv_px):
                assert (uv[:, 0] > 0).all() and (uv[:, 0] < CAL.width).all()
                assert (uv[:, 1] > 0).all() and (uv[:, 1] < CAL.height).all()
        body = InfantMotion(seed).body_points(0.0)
        length = body[J["right_ankle"], 1] - body[J["nose"], 1] + 60  # + crown above the nose
        assert 380 < length < 520


def test_same_seed_same_frames_different_seed_different_motion():
    a = [f.truth.xyz_mm for f in SyntheticSource(seed=3, n_frames=10, paced=False, render=False).frames()]
    b = [f.truth.xyz_mm for f in SyntheticSource(seed=3, n_frames=10, paced=False, render=False).frames()]
    c = [f.truth.xyz_mm for f in SyntheticSource(seed=4, n_frames=10, paced=False, render=False).frames()]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.allclose(a[5], c[5])


def test_exact_frame_count_and_indices():
    frames = list(SyntheticSource(seed=0, n_frames=30 * 2, paced=False, render=False).frames())
    assert [f.index for f in frames] == list(range(60))


def test_images_show_the_limbs_where_the_truth_says():
    """The drawing uses the ground-truth projection: joint dots are darker than the mattress there."""
    f = SyntheticSource(seed=2, n_frames=1, paced=False).frame_at(0, 0)
    assert f.left.shape == (720, 1280, 3) and f.left.dtype == np.uint8
    for img, uv in ((f.left, f.truth.left_uv_px), (f.right, f.truth.right_uv_px)):
        u, v = np.round(uv).astype(int).T
        assert (img[v, u].astype(int).sum(axis=1) < 450).all()
        assert img[5, 5].astype(int).sum() > 550  # mattress far from the infant
    # the right view is the left shifted by the disparity: the same joints further left
    assert (f.truth.right_uv_px[:, 0] < f.truth.left_uv_px[:, 0]).all()
    assert np.array_equal(f.truth.right_uv_px[:, 1], f.truth.left_uv_px[:, 1])
