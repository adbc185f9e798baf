"""Bench rows for the stereo stage: triangulation plus validity per frame pair."""
from __future__ import annotations

import numpy as np

from .. import bench
from ..capture.synthetic import SIMULATED_ZED2_HD720 as CAL, InfantMotion
from ..frames import Keypoints2D
from ..stereo.stage import triangulate_joints
from ..stereo.validity import ValidityRules


@bench.register("triangulate", default=False)
def bench_triangulate(args) -> list[dict]:
    xyz = InfantMotion(0).joints_mm(1.0)
    lu, ru = CAL.project(xyz)
    ones = np.ones(17, np.float32)
    left, right = Keypoints2D(lu.astype(np.float32), ones), Keypoints2D(ru.astype(np.float32), ones)
    rules = ValidityRules()
    repeat = getattr(args, "repeat", 200)
    return [{"name": "triangulate+validity (17 joints)",
             "median_us": bench.median_us(lambda: triangulate_joints(left, right, CAL, rules), repeat=repeat),
             "alloc_peak_bytes_per_frame": bench.alloc_peak_bytes(lambda: triangulate_joints(left, right, CAL, rules))}]
