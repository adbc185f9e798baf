"""Rectified triangulation against hand-computed geometry, and its round trip with project_rectified."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.stereo.triangulate import project_rectified, triangulate_rectified

FX, FY, CX, CY, B = 530.0, 520.0, 639.5, 359.5, 120.0


def test_hand_computed_point():
    """Z = B·fx/d: with fx 530 px, B 120 mm and a 79.5 px disparity the point is 800 mm away."""
    xyz, epi = triangulate_rectified([706.0, 400.0], [626.5, 401.0], FX, CX, CY, B, fy=FY)
    z = 120.0 * 530.0 / 79.5
    assert np.allclose(xyz, [(706.0 - 639.5) * z / 530.0, (400.0 - 359.5) * z / 520.0, z])
    assert z == 800.0
    assert epi == 1.0


def test_fy_defaults_to_fx():
    """Y uses fy when given, fx otherwise (square pixels)."""
    xyz, _ = triangulate_rectified([[700.0, 300.0]], [[600.0, 300.0]], FX, CX, CY, B)
    assert np.isclose(xyz[0, 1], (300.0 - 359.5) * xyz[0, 2] / FX)


def test_non_positive_disparity_is_nan():
    """A point at or beyond infinity (disparity <= 0) has no depth: NaN, never a sentinel."""
    xyz, _ = triangulate_rectified([[600.0, 300.0], [600.0, 300.0], [np.nan, 1.0]],
                                   [[600.0, 300.0], [610.0, 300.0], [500.0, 1.0]], FX, CX, CY, B)
    assert np.isnan(xyz).all()


def test_shapes_broadcast_over_leading_axes():
    """(..., 2) -> (..., 3) and (...): frames x joints in one call."""
    left = np.full((5, 17, 2), 700.0)
    right = np.full((5, 17, 2), 650.0)
    xyz, epi = triangulate_rectified(left, right, FX, CX, CY, B)
    assert xyz.shape == (5, 17, 3) and epi.shape == (5, 17)


@settings(max_examples=200, deadline=None)
@given(st.floats(-600, 600), st.floats(-400, 400), st.floats(300, 3000))
def test_project_then_triangulate_round_trip(x, y, z):
    """project_rectified is the inverse of triangulate_rectified for any point in front of the camera."""
    left, right = project_rectified([x, y, z], FX, CX, CY, B, fy=FY)
    assert left[1] == right[1]
    xyz, epi = triangulate_rectified(left, right, FX, CX, CY, B, fy=FY)
    assert np.allclose(xyz, [x, y, z], rtol=1e-9, atol=1e-6)
    assert epi == 0.0


def test_behind_the_camera_projects_to_nan():
    left, right = project_rectified([0.0, 0.0, -5.0], FX, CX, CY, B)
    assert np.isnan(left).all() and np.isnan(right).all()
