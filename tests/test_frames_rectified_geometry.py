"""Rectified triangulation against hand-computed geometry, and its round trip with projection.

Both live on RectifiedCalibration (appliance/frames.py): the synthetic scene projects its ground
truth with ``project``, the stereo stage triangulates with ``triangulate``; each is the other's
inverse, so a simulated session measures the decoder and the rules, not a mismatch of conventions.
"""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.frames import RectifiedCalibration

FX, FY, CX, CY, B = 530.0, 520.0, 639.5, 359.5, 120.0
CAL = RectifiedCalibration(width=1280, height=720, fx=FX, fy=FY, cx=CX, cy=CY, baseline_mm=B)


def test_hand_computed_point():
    """Z = B·fx/d: with fx 530 px, B 120 mm and a 79.5 px disparity the point is 800 mm away."""
    xyz, epi = CAL.triangulate([706.0, 400.0], [626.5, 401.0])
    z = 120.0 * 530.0 / 79.5
    assert np.allclose(xyz, [(706.0 - 639.5) * z / 530.0, (400.0 - 359.5) * z / 520.0, z])
    assert z == 800.0
    assert epi == 1.0


def test_x_uses_fx_and_y_uses_fy():
    """Non-square pixels: X scales with fx, Y with fy (never fx for both)."""
    xyz, _ = CAL.triangulate([[700.0, 300.0]], [[600.0, 300.0]])
    z = B * FX / 100.0
    assert np.isclose(xyz[0, 2], z)
    assert np.isclose(xyz[0, 0], (700.0 - CX) * z / FX)
    assert np.isclose(xyz[0, 1], (300.0 - CY) * z / FY) and not np.isclose(xyz[0, 1], (300.0 - CY) * z / FX)


def test_non_positive_disparity_is_nan():
    """A point at or beyond infinity (disparity <= 0) has no depth: NaN, never a sentinel."""
    xyz, _ = CAL.triangulate([[600.0, 300.0], [600.0, 300.0], [np.nan, 1.0]],
                             [[600.0, 300.0], [610.0, 300.0], [500.0, 1.0]])
    assert np.isnan(xyz).all()


def test_shapes_broadcast_over_leading_axes():
    """(..., 2) -> (..., 3) and (...): frames x joints in one call."""
    left = np.full((5, 17, 2), 700.0)
    right = np.full((5, 17, 2), 650.0)
    xyz, epi = CAL.triangulate(left, right)
    assert xyz.shape == (5, 17, 3) and epi.shape == (5, 17)
    left_uv, right_uv = CAL.project(np.full((5, 17, 3), 800.0))
    assert left_uv.shape == right_uv.shape == (5, 17, 2)


@settings(max_examples=200, deadline=None)
@given(st.floats(-600, 600), st.floats(-400, 400), st.floats(300, 3000))
def test_project_then_triangulate_round_trip(x, y, z):
    """project is the inverse of triangulate for any point in front of the camera."""
    left, right = CAL.project([x, y, z])
    assert left[1] == right[1]
    xyz, epi = CAL.triangulate(left, right)
    assert np.allclose(xyz, [x, y, z], rtol=1e-9, atol=1e-6)
    assert epi == 0.0


def test_behind_the_camera_projects_to_nan():
    left, right = CAL.project([0.0, 0.0, -5.0])
    assert np.isnan(left).all() and np.isnan(right).all()
