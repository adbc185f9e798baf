"""Flip-test conventions: mirroring heatmaps back and swapping left/right joints."""
from __future__ import annotations

import numpy as np
import pytest

from appliance.joints import FLIP_PAIRS, flip_permutation
from appliance.pose.crop import flip_back
from appliance.pose.decode import encode


def test_flip_back_matches_reference(fixtures_dir):
    """flip_back mirrors and swaps the pairs exactly like the reference flip_back (fixture)."""
    ref = np.load(fixtures_dir / "dark_reference_sample.npz")
    assert [tuple(p) for p in ref["flip_pairs"]] == list(FLIP_PAIRS)
    inp = ref["flip_in"]
    before = inp.copy()
    out = flip_back(inp, "dark")
    np.testing.assert_array_equal(out, ref["flip_back_out"])
    np.testing.assert_array_equal(inp, before)  # the caller's array is untouched


def test_dark_flip_of_a_mirrored_joint_is_exact():
    """In the "size - 1" convention the mirror of heatmap x is W - 1 - x exactly, so the maps of
    a mirrored input (joints mirrored and left/right swapped) flip back to the original maps."""
    rng = np.random.default_rng(3)
    coords = np.stack([rng.uniform(5, 66, (1, 17)), rng.uniform(5, 90, (1, 17))], axis=-1)
    mirrored = coords[:, list(flip_permutation())].copy()
    mirrored[..., 0] = 71.0 - mirrored[..., 0]
    back = flip_back(encode(mirrored), "dark")
    np.testing.assert_allclose(back, encode(coords), atol=1e-6)


def test_hrnet_flip_shifts_one_column():
    """HRNet's flip test (TEST.SHIFT_HEATMAP) shifts the flipped maps one column right, keeping
    column 0: "hrnet" = "dark" followed by that shift."""
    rng = np.random.default_rng(4)
    hm = rng.normal(size=(2, 17, 6, 5)).astype(np.float32)
    dark = flip_back(hm, "dark")
    hrnet = flip_back(hm, "hrnet")
    np.testing.assert_array_equal(hrnet[..., 1:], dark[..., :-1])
    np.testing.assert_array_equal(hrnet[..., 0], dark[..., 0])


def test_unknown_convention_is_refused():
    """A typo in the convention must not silently pick one."""
    with pytest.raises(ValueError):
        flip_back(np.zeros((1, 17, 4, 4)), "mmpose")
