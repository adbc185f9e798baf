"""Comparing joints rows before and after compact storage (schema version 3): equal within the rounding.

joint_samples stores x/y/z in 0.01 mm, u/v in 0.001 px and scores in 1e-4, so a value read back
through the view joints is within half a unit of what was stored before (plus a double's own
rounding); confidence = min of the rounded scores (within 5e-5), epipolar_px = |left_v - right_v|
of the rounded rows (within 0.001 px, two roundings). NULL stays NULL, the reason stays the reason.
"""
from __future__ import annotations

import math

EPS = 1e-9
#: column of joints -> largest difference allowed between a value before and after
TOLERANCE = {
    "x_mm": 0.005 + EPS, "y_mm": 0.005 + EPS, "z_mm": 0.005 + EPS,
    "left_u": 0.0005 + EPS, "left_v": 0.0005 + EPS, "right_u": 0.0005 + EPS, "right_v": 0.0005 + EPS,
    "left_score": 5e-5 + EPS, "right_score": 5e-5 + EPS, "confidence": 5e-5 + 1e-7,  # a float32 min, stored before
    "epipolar_px": 0.001 + 1e-5,  # float32 before
}
KEY = ("session_id", "frame_index", "joint")


def _none_if_nan(v):
    return None if isinstance(v, float) and math.isnan(v) else v


def assert_joints_within_rounding(before: list[tuple], after: list[tuple], columns: list[str]) -> int:
    """Rows (with `columns`, the key among them) before vs after: same keys, same NULLs and reasons,
    every number within TOLERANCE. Returns the number of values compared."""
    key = [columns.index(k) for k in KEY]
    b = {tuple(r[i] for i in key): r for r in before}
    a = {tuple(r[i] for i in key): r for r in after}
    assert b.keys() <= a.keys(), sorted(b.keys() - a.keys())[:5]
    compared = 0
    for k, old in b.items():
        new = a[k]
        for c, x, y in zip(columns, old, new):
            x = _none_if_nan(x)
            if c in TOLERANCE:
                assert (x is None) == (y is None), (k, c, x, y)
                if x is not None:
                    assert isinstance(y, float), (k, c, y)
                    assert abs(x - y) <= TOLERANCE[c], (k, c, x, y)
                    compared += 1
            else:
                assert x == y, (k, c, x, y)
    return compared
