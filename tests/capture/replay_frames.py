"""Test helper: small stereo frames with ground truth, without the synthetic scene's renderer.

Views are 320x180 noise-textured images (noise is the hardest case for a lossless codec: any
loss shows), truth is random, indices start at 0 with a gap, timestamps step 1/fps with jitter.
"""
from __future__ import annotations

import numpy as np

from appliance.frames import GroundTruth, RectifiedCalibration, StereoFrame

CAL = RectifiedCalibration(width=320, height=180, fx=132.5, fy=132.5, cx=159.5, cy=89.5, baseline_mm=120.0,
                           serial="synthetic", resolution="HD720", source="synthetic")


def frames(n=6, fps=30.0, truth=True, seed=0, calibration=CAL):
    rng = np.random.default_rng(seed)
    t0 = 1_760_000_000_000_000_000
    out = []
    for i in range(n):
        index = i if i < 3 else i + 2  # a gap, as when the source dropped frames
        left = rng.integers(0, 256, (calibration.height, calibration.width, 3), dtype=np.uint8)
        right = np.roll(left, -7, axis=1) // 2 + rng.integers(0, 128, left.shape, dtype=np.uint8)
        gt = None
        if truth:
            gt = GroundTruth(xyz_mm=rng.normal(0, 100, (17, 3)) + [0, 0, 800], left_uv_px=rng.uniform(0, 300, (17, 2)),
                             right_uv_px=rng.uniform(0, 300, (17, 2)))
        t_ns = t0 + int(round(index * 1e9 / fps)) + int(rng.integers(-200_000, 200_000))
        out.append(StereoFrame(index=index, t_ns=t_ns, left=left, right=right, calibration=calibration, truth=gt))
    return out
