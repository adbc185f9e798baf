"""Hand-made maps for the decoding rules: ties, borders, missing maps, the log clamp."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.pose.decode import decode_heatmaps, encode
from appliance.pose.decode_reference import decode_heatmaps_reference

H, W = 96, 72


def _maps(*points, value=1.0):
    hm = np.zeros((1, len(points), H, W), np.float32)
    for j, pts in enumerate(points):
        for x, y in pts:
            hm[0, j, y, x] = value
    return hm


@pytest.mark.parametrize("method", ["dark", "standard"])
def test_ties_go_to_the_first_maximum_in_row_major_order(method):
    """Two equal maxima: the one in the earlier row wins; in the same row the left one.
    Isolated spikes have symmetric neighbourhoods, so both methods return the pixel itself."""
    hm = _maps([(5, 30), (10, 20)], [(40, 20), (10, 20)], [(10, 20), (11, 20)])
    coords, scores = decode_heatmaps(hm, method)
    np.testing.assert_allclose(coords[0, 0], (10, 20), atol=1e-6)
    np.testing.assert_allclose(coords[0, 1], (10, 20), atol=1e-6)
    assert coords[0, 2, 1] == pytest.approx(20.0, abs=1e-6)
    assert scores.tolist() == [[1.0, 1.0, 1.0]]


def test_tie_of_neighbours_moves_dark_and_standard_right():
    """Two equal neighbouring maxima at x = 10 and 11: argmax is x = 10, and both methods
    move toward x = 11: standard exactly +0.25; DARK close to the midpoint 10.5 (the blurred
    log is not exactly quadratic, so one Newton step from 10 lands within 1e-3 of it), as
    the reference does."""
    hm = _maps([(10, 20), (11, 20)])
    std, _ = decode_heatmaps(hm, "standard")
    dark, _ = decode_heatmaps(hm, "dark")
    np.testing.assert_array_equal(std[0, 0], [10.25, 20.0])
    np.testing.assert_allclose(dark[0, 0], [10.5, 20.0], atol=1e-3)
    np.testing.assert_allclose(dark, decode_heatmaps_reference(hm, "dark")[0], atol=1e-5)


@pytest.mark.parametrize(
    "x, y, dark_steps, std_steps",
    [
        (1, 40, False, False), (2, 40, True, True), (W - 3, 40, True, True),
        (W - 2, 40, False, True), (W - 1, 40, False, False), (30, 1, False, False),
        (30, 2, True, True), (30, H - 3, True, True), (30, H - 2, False, True),
        (30, H - 1, False, False), (0, 0, False, False), (W - 1, H - 1, False, False),
    ],
)
def test_border_rules(x, y, dark_steps, std_steps):
    """DARK steps only where 2 <= x <= W-3 and 2 <= y <= H-3; standard only where 1 < x < W-1
    and 1 < y < H-1. A Gaussian centred 0.3 px off the pixel (toward +x, +y) keeps its argmax
    at (x, y); a step moves the coordinate off the integer, no step leaves it there."""
    centre = np.array([[[x + 0.3, y + 0.3]]])
    hm = encode(centre, sigma=2.0)
    for method, steps in (("dark", dark_steps), ("standard", std_steps)):
        coords, _ = decode_heatmaps(hm, method)
        moved = not np.array_equal(coords[0, 0], np.array([x, y], np.float32))
        assert moved == steps, (method, coords[0, 0])
        assert np.all(np.abs(coords[0, 0] - (x, y)) < 1.0)
    ref, _ = decode_heatmaps_reference(hm, "dark")
    np.testing.assert_allclose(decode_heatmaps(hm, "dark")[0], ref, atol=1e-5)


@pytest.mark.parametrize("method", ["dark", "standard"])
def test_maps_without_positive_maximum_give_nan_and_keep_their_score(method):
    """All-zero, all-negative and NaN maps: NaN coordinates (never the (0, 0) sentinel),
    the raw maximum as score; neighbouring maps are unaffected."""
    hm = np.zeros((1, 4, H, W), np.float32)
    hm[0, 1] = -0.5
    hm[0, 1, 10, 10] = -0.25
    hm[0, 2, 30, 20] = np.nan
    hm[0, 3] = encode(np.array([[30.2, 40.7]]))[0]
    coords, scores = decode_heatmaps(hm, method)
    assert np.isnan(coords[0, :3]).all()
    assert scores[0, 0] == 0.0 and scores[0, 1] == np.float32(-0.25) and np.isnan(scores[0, 2])
    assert np.isfinite(coords[0, 3]).all() and scores[0, 3] > 0.9


def test_clamp_flattens_a_tiny_map():
    """A peak of 1e-11: after the rescale to the raw maximum every blurred value is below the
    1e-10 clamp, the log map is flat, the Hessian singular: no step, the argmax stays (as in
    the reference). Without the clamp the sub-pixel centre would be found."""
    hm = encode(np.array([[[30.3, 40.4]]])) * np.float32(1e-11)
    coords, scores = decode_heatmaps(hm, "dark")
    np.testing.assert_array_equal(coords[0, 0], [30.0, 40.0])
    assert scores[0, 0] == hm.max()
    np.testing.assert_array_equal(coords, decode_heatmaps_reference(hm, "dark")[0])


def test_clamp_biting_in_part_of_the_neighbourhood_matches_reference():
    """A peak next to a deep negative trough: some blurred samples of the 5x5 neighbourhood are
    negative, the clamp bites there, and the decoder must take the reference's exact path."""
    hm = encode(np.array([[[30.3, 40.4], [20.6, 60.2]]]))
    hm[0, 0, 38:43, 33:36] = -3.0
    # A single positive spike on a negative map: the whole blurred map is negative, so the
    # reference's rescale to the raw maximum flips its sign before the clamp and the log.
    hm[0, 1] = -0.5
    hm[0, 1, 60, 20] = 2.0
    coords, _ = decode_heatmaps(hm, "dark")
    ref, _ = decode_heatmaps_reference(hm, "dark")
    np.testing.assert_allclose(coords, ref, atol=1e-4)
    assert np.isfinite(coords).all()


def test_unknown_method_and_bad_kernel_are_refused():
    """Typos must not fall back to some default decoder."""
    hm = np.zeros((1, 1, H, W), np.float32)
    with pytest.raises(ValueError):
        decode_heatmaps(hm, "udp")
    with pytest.raises(ValueError):
        decode_heatmaps(hm, "dark", blur_kernel=10)
    with pytest.raises(ValueError):
        decode_heatmaps(hm[0], "dark")
