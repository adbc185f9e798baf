"""The accuracy block of a session summary (paper Tables 3-5), from a session's arrays.

The caller reads the arrays from the committed rows (``appliance.store.readback``), so what is
reported is what is stored; this module computes and never reads a database.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import metrics


def accuracy_block(*, xyz_mm, left_uv_px, right_uv_px, valid, truth_xyz_mm, truth_left_uv_px,
                   truth_right_uv_px) -> dict[str, Any] | None:
    """A session's arrays -> the `accuracy` JSON block; None without ground truth or frames.

    xyz_mm (F, 17, 3) NaN where invalid; left_uv_px, right_uv_px (F, 17, 2) NaN where not detected;
    valid (F, 17) bool; truth_* the same shapes (None without ground truth).
    """
    if truth_xyz_mm is None or len(xyz_mm) == 0:
        return None
    acc = metrics.accuracy_3d(xyz_mm, truth_xyz_mm)
    err2d = np.concatenate([
        np.linalg.norm(left_uv_px - truth_left_uv_px, axis=-1)[valid],
        np.linalg.norm(right_uv_px - truth_right_uv_px, axis=-1)[valid],
    ])
    # 2D PCK over both views, every ground-truth joint in the denominator (undetected = miss)
    est2d = np.concatenate([left_uv_px, right_uv_px])
    true2d = np.concatenate([truth_left_uv_px, truth_right_uv_px])
    out: dict[str, Any] = {
        "mean_mm": acc["mean_mm"], "std_mm": acc["std_mm"], "valid_ratio": acc["valid_ratio"],
        "pck_10mm": acc["pck_10mm"], "pck_25mm": acc["pck_25mm"], "pck_50mm": acc["pck_50mm"],
        "pck_100mm": acc["pck_100mm"],
        "mean_2d_px": float(err2d.mean()) if err2d.size else float("nan"),
    }
    for frac in metrics.PCK2D_FRACTIONS:
        out[f"pck2d_{round(frac * 100):02d}"] = metrics.pck_2d(est2d, true2d, frac)
    out["per_group"] = {
        g: {"mean_mm": v["mean_mm"], "std_mm": v["std_mm"], "pck_10mm": v["pck_10mm"], "pck_25mm": v["pck_25mm"],
            "pck_50mm": v["pck_50mm"], "pck_100mm": v["pck_100mm"]}
        for g, v in metrics.accuracy_per_group(xyz_mm, truth_xyz_mm).items()
    }
    return out
