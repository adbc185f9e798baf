"""The remap tables move image content where the point-level rectification says.

Small Gaussian dots are drawn in raw left/right images at the raw projections of known 3D points;
after Rectifier.rectify (cv2.remap through the precomputed maps) each dot's intensity centroid
sits where rectify_points puts it, and the two views' dots share a row.
"""
from __future__ import annotations

import numpy as np

from appliance.capture.rectify import rectifier_from_file

from . import rig
from . import zed_conf_files as Z

SIGMA = 2.0
HALF = 8


def _draw(uv, shape):
    img = np.zeros(shape[:2], np.float64)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    for u, v in uv:
        x0, y0 = int(round(u)), int(round(v))
        sl = np.s_[y0 - HALF : y0 + HALF + 1, x0 - HALF : x0 + HALF + 1]
        img[sl] += 250.0 * np.exp(-((xx[sl] - u) ** 2 + (yy[sl] - v) ** 2) / (2 * SIGMA**2))
    return np.repeat(np.clip(img, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)


def _centroid(img, u, v):
    x0, y0 = int(round(u)), int(round(v))
    patch = img[y0 - HALF : y0 + HALF + 1, x0 - HALF : x0 + HALF + 1, 0].astype(np.float64)
    yy, xx = np.mgrid[y0 - HALF : y0 + HALF + 1, x0 - HALF : x0 + HALF + 1]
    return np.array([(patch * xx).sum() / patch.sum(), (patch * yy).sum() / patch.sum()])


def test_dots_land_where_the_points_say(tmp_path):
    rect = rectifier_from_file(Z.write(tmp_path / "SN5.conf", Z.new_format()), "HD720")
    X = rig.points(n=400, seed=3)
    uvl, uvr, inside = rig.project(X)
    keep = inside & np.all((uvl > 40) & (uvl < [rig.W - 40, rig.H - 40]) & (uvr > 40) & (uvr < [rig.W - 40, rig.H - 40]), axis=1)
    uvl, uvr = uvl[keep][:40], uvr[keep][:40]
    # keep dots apart so centroids do not mix
    sep = np.linalg.norm(uvl[:, None] - uvl[None], axis=-1) + np.eye(len(uvl)) * 1e9
    ok = sep.min(axis=1) > 4 * HALF
    uvl, uvr = uvl[ok], uvr[ok]
    assert len(uvl) >= 10
    shape = (rig.H, rig.W, 3)
    left_img, right_img = rect.rectify(_draw(uvl, shape), _draw(uvr, shape))
    assert left_img.shape == shape and left_img.dtype == np.uint8
    want_l, want_r = rect.rectify_points(uvl, uvr)
    got_l = np.array([_centroid(left_img, *p) for p in want_l])
    got_r = np.array([_centroid(right_img, *p) for p in want_r])
    assert np.abs(got_l - want_l).max() < 0.1
    assert np.abs(got_r - want_r).max() < 0.1
    assert np.abs(got_l[:, 1] - got_r[:, 1]).max() < 0.1
