"""The accuracy block of a session summary, computed from the committed rows (paper Tables 3-5)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..store.readback import load_session_arrays
from . import metrics


def accuracy_from_arrays(arrays) -> dict[str, Any] | None:
    """SessionArrays -> the `accuracy` JSON block; None without ground truth or frames."""
    if arrays.truth_xyz_mm is None or len(arrays.frame_index) == 0:
        return None
    acc = metrics.accuracy_3d(arrays.xyz_mm, arrays.truth_xyz_mm)
    valid = arrays.valid
    err2d = np.concatenate([
        np.linalg.norm(arrays.left_uv_px - arrays.truth_left_uv_px, axis=-1)[valid],
        np.linalg.norm(arrays.right_uv_px - arrays.truth_right_uv_px, axis=-1)[valid],
    ])
    # 2D PCK over both views, every ground-truth joint in the denominator (undetected = miss)
    est2d = np.concatenate([arrays.left_uv_px, arrays.right_uv_px])
    true2d = np.concatenate([arrays.truth_left_uv_px, arrays.truth_right_uv_px])
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
        for g, v in metrics.accuracy_per_group(arrays.xyz_mm, arrays.truth_xyz_mm).items()
    }
    return out


def session_accuracy(conn, session_id: int) -> dict[str, Any] | None:
    return accuracy_from_arrays(load_session_arrays(conn, session_id))
