"""Read a C3D file back with the two independent readers the issue names: ezc3d and the `c3d` package.

Each returns the same shape of answer so tests can hold both to one expectation: labels, rate,
first frame number, points (F, N, 3) float32 with NaN for an invalid point, residual (F, N)
(-1 for invalid), and the parameter groups' raw values where the test needs them.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class C3DRead:
    reader: str
    labels: list[str]
    rate: float
    units: str
    first_frame: int
    points: np.ndarray
    residual: np.ndarray
    agma_first_frame_index: float | None
    agma_session_uid: str | None


def read_ezc3d(path: Path) -> C3DRead:
    import ezc3d

    c = ezc3d.c3d(str(path))
    pts = c["data"]["points"]  # (4, N, F), NaN where invalid
    res = c["data"]["meta_points"]["residuals"][0]  # (N, F)
    p = c["parameters"]
    agma = p.get("AGMA", {})
    return C3DRead(
        reader="ezc3d", labels=[s.strip() for s in p["POINT"]["LABELS"]["value"]],
        rate=float(p["POINT"]["RATE"]["value"][0]), units=p["POINT"]["UNITS"]["value"][0].strip(),
        first_frame=int(c["header"]["points"]["first_frame"]) + 1,  # ezc3d counts from 0
        points=np.transpose(pts[:3], (2, 1, 0)).astype(np.float32), residual=res.T,
        agma_first_frame_index=float(agma["FIRST_FRAME_INDEX"]["value"][0]) if "FIRST_FRAME_INDEX" in agma else None,
        agma_session_uid=agma["SESSION_UID"]["value"][0] if "SESSION_UID" in agma else None)


def read_c3d_package(path: Path) -> C3DRead:
    import c3d

    with open(path, "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("error")  # any complaint of the reader fails the test, except:
        warnings.filterwarnings("ignore", "No analog data found")  # true: the file has only points
        r = c3d.Reader(fh)
        frames = [(n, pts.copy()) for n, pts, _ in r.read_frames()]
        labels = [s.strip() for s in r.point_labels]
        agma = r.get("AGMA")
        out = C3DRead(
            reader="c3d", labels=labels, rate=float(r.point_rate), units=r.get("POINT:UNITS").string_value.strip(),
            first_frame=int(frames[0][0]) if frames else 0,
            points=np.zeros((0, len(labels), 3), np.float32), residual=np.zeros((0, len(labels))),
            agma_first_frame_index=float(agma.get("FIRST_FRAME_INDEX").float_value)
            if agma and agma.get("FIRST_FRAME_INDEX") else None,
            agma_session_uid=agma.get("SESSION_UID").string_value.strip() if agma and agma.get("SESSION_UID") else None)
    if frames:
        arr = np.stack([p for _, p in frames])  # (F, N, 5): x, y, z, residual, cameras
        xyz = arr[:, :, :3].astype(np.float32)
        xyz[arr[:, :, 3] < 0] = np.nan
        out.points, out.residual = xyz, arr[:, :, 3]
    return out


def read_both(path: Path) -> list[C3DRead]:
    return [read_ezc3d(path), read_c3d_package(path)]
