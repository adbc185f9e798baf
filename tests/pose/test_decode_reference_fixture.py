"""decode_heatmaps against the published reference code's outputs on the shared fixture.

The fixture holds DarkPose's and HRNet's get_final_preds on 68 maps of 21 kinds. A faithful
re-implementation meets 1e-3 heatmap px and exact maxima; where a map has no positive maximum
the references write the sentinel (0, 0) and we write NaN.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.pose.decode import decode_heatmaps
from appliance.pose.decode_reference import decode_heatmaps_reference

CASES = [("dark", "dark_coords_hm", "dark_maxvals"), ("standard", "std_coords_hm", "std_maxvals")]


@pytest.fixture(scope="module")
def ref(fixtures_dir):
    return np.load(fixtures_dir / "dark_reference_sample.npz")


@pytest.mark.parametrize("decoder", [decode_heatmaps, decode_heatmaps_reference], ids=["numpy", "per_joint"])
@pytest.mark.parametrize("method, coords_key, max_key", CASES)
def test_fixture_maps(ref, decoder, method, coords_key, max_key):
    """Every one of the 68 maps: coordinates within 1e-3 hm px where the maximum is positive,
    NaN where it is not, scores equal to the reference maxima bit for bit."""
    heatmaps = ref["heatmaps"]
    before = heatmaps.copy()
    coords, scores = decoder(heatmaps, method, int(ref["blur_kernel"]))
    np.testing.assert_array_equal(heatmaps, before)  # the reference blur overwrites; we must not
    assert coords.shape == (4, 17, 2) and coords.dtype == np.float32
    assert scores.shape == (4, 17) and scores.dtype == np.float32
    expected_max = ref[max_key][..., 0]
    np.testing.assert_array_equal(scores, expected_max)
    positive = expected_max > 0
    assert (~positive).sum() >= 4  # zeros and all_negative are in the sample
    err = np.abs(coords - ref[coords_key]).max(axis=-1)
    worst = np.unravel_index(np.argmax(np.where(positive, err, -1)), err.shape)
    assert err[positive].max() <= 1e-3, (ref["case_labels"][worst], err[worst])
    assert np.isnan(coords[~positive]).all()


def test_fixture_covers_the_kinds_we_rely_on(ref):
    """The fixture's labels include the corner cases this decoder's rules are about."""
    labels = set(ref["case_labels"].ravel().tolist())
    assert {"border_x0", "border_xW-1", "corner", "near_border", "two_peak_tie", "zeros",
            "all_negative", "neg_baseline", "tiny_amp", "constant"} <= labels
