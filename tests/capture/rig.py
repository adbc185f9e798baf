"""Test helper: a synthetic ZED-like stereo rig with known R and T, and known 3D points.

Points are rendered into raw (distorted, unrectified) pixel coordinates with cv2.projectPoints,
left camera at the origin, right camera at X_r = R·X_l + T: the forward model, independent of
the rectification under test.
"""
from __future__ import annotations

import cv2
import numpy as np

from . import zed_conf_files as Z

W, H = Z.SIZES["HD"]
RES = "HD"


def rig():
    """(K1, D1, K2, D2, rvec, T) of the HD sections of zed_conf_files (float64)."""
    def km(v):
        return np.array([[v["fx"], 0, v["cx"]], [0, v["fy"], v["cy"]], [0, 0, 1.0]])

    def dm(v):
        return np.array([v["k1"], v["k2"], v["p1"], v["p2"], v["k3"]])

    L, R = Z.CAMS[RES]["LEFT"], Z.CAMS[RES]["RIGHT"]
    rx, cv, rz = Z.ROT[RES]
    return km(L), dm(L), km(R), dm(R), np.array([rx, cv, rz]), np.array([-Z.BASELINE_MM, Z.TY_MM, Z.TZ_MM])


def points(n=300, seed=0):
    """(n, 3) mm in the left camera frame, 0.45-1.2 m away, spread over the whole field of view."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(450.0, 1200.0, n)
    x = rng.uniform(-0.95, 0.95, n) * z * (W / 2) / 530.0
    y = rng.uniform(-0.95, 0.95, n) * z * (H / 2) / 530.0
    return np.c_[x, y, z]


def project(X):
    """Raw pixel coordinates of X in both cameras, and the mask of points inside both images."""
    K1, D1, K2, D2, rvec, T = rig()
    uvl = cv2.projectPoints(X, np.zeros(3), np.zeros(3), K1, D1)[0].reshape(-1, 2)
    uvr = cv2.projectPoints(X, rvec, T, K2, D2)[0].reshape(-1, 2)
    inside = np.all((uvl > 2) & (uvl < [W - 3, H - 3]) & (uvr > 2) & (uvr < [W - 3, H - 3]), axis=1)
    return uvl, uvr, inside
