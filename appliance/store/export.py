"""Exports of one session for analysis tools: CSV (long or wide), C3D (parts), NPZ.

Everything is read in one read transaction (one snapshot, so an open session exports consistently)
from the box's database or from a dump. Coordinates are the database's: mm in the left rectified
camera frame (X right, Y down, Z along the optical axis). Missing is empty (CSV), NaN (NPZ) or an
invalid point (C3D, residual -1) — never a made-up number.
"""
from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..errors import AgmaError
from ..joints import NUM_JOINTS
from .c3d_format import custom_group, write_c3d
from .integrity import reading
from .listing import find_session

C3D_PART_FRAMES = 54_000  # C3D frame numbers are 16-bit (<= 65,535) and some readers take fewer
FORMATS = ("csv", "c3d", "npz")

LONG_COLUMNS = ("frame_index", "t_ns", "joint", "x_mm", "y_mm", "z_mm", "confidence", "left_u", "left_v",
                "left_score", "right_u", "right_v", "right_score", "epipolar_px", "invalid_reason")
WIDE_PER_JOINT = ("x_mm", "y_mm", "z_mm", "confidence")


@dataclass(frozen=True)
class SessionExport:
    """One session's stored frames as arrays: F stored frames (frame_index may have gaps: dropped frames)."""

    session: dict[str, Any]
    calibration: dict[str, Any]
    joint_names: list[str]
    frame_index: np.ndarray  # (F,) int64
    t_ns: np.ndarray  # (F,) int64
    valid_joints: np.ndarray  # (F,) int64
    xyz_mm: np.ndarray  # (F, 17, 3) float64, NaN where invalid
    confidence: np.ndarray  # (F, 17), NaN where NULL
    left_uv_px: np.ndarray  # (F, 17, 2)
    left_score: np.ndarray  # (F, 17)
    right_uv_px: np.ndarray
    right_score: np.ndarray
    epipolar_px: np.ndarray  # (F, 17)
    invalid_reason_code: np.ndarray  # (F, 17) int8: index into invalid_reason_names, 0 ('') for a valid joint
    invalid_reason_names: tuple[str, ...]  # '' first, then the reasons met in this session

    @property
    def uid(self) -> str:
        return self.session["uid"]


def load_session(conn: sqlite3.Connection, uid: str, db_path: Path | str = "the database") -> SessionExport:
    conn.execute("BEGIN")
    try:
        s = find_session(conn, uid, db_path)
        cur = conn.execute("SELECT * FROM sessions WHERE id = ?", (s.id,))
        session = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        cur = conn.execute("SELECT * FROM calibrations WHERE id = ?", (s.calibration_id,))
        calibration = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        names = [r[0] for r in conn.execute("SELECT name FROM joint_names ORDER BY joint")]
        frames = conn.execute("SELECT frame_index, t_ns, valid_joints FROM frames WHERE session_id = ? "
                              "ORDER BY frame_index", (s.id,)).fetchall()
        f = np.array(frames, dtype=np.int64).reshape(-1, 3)
        del frames
        n = len(f)
        vals = np.empty((n * NUM_JOINTS, 11))
        keys = np.empty((n * NUM_JOINTS, 2), dtype=np.int64)
        codes = np.empty(n * NUM_JOINTS, dtype=np.int8)
        reason_code: dict[str | None, int] = {None: 0}
        cur = conn.execute(
            "SELECT frame_index, joint, x_mm, y_mm, z_mm, confidence, left_u, left_v, left_score, right_u, right_v, "
            "right_score, epipolar_px, invalid_reason FROM joints WHERE session_id = ? ORDER BY frame_index, joint",
            (s.id,))
        done = 0
        while chunk := cur.fetchmany(NUM_JOINTS * 4096):  # bounded memory: an hour is 1.8 M rows
            if done + len(chunk) > len(vals):
                raise AgmaError(f"session {uid}: more joint rows than {NUM_JOINTS} per stored frame")
            keys[done:done + len(chunk)] = [r[:2] for r in chunk]
            vals[done:done + len(chunk)] = [r[2:13] for r in chunk]  # NULL -> NaN
            codes[done:done + len(chunk)] = [reason_code.setdefault(r[13], len(reason_code)) for r in chunk]
            done += len(chunk)
    finally:
        conn.execute("COMMIT")
    if len(names) != NUM_JOINTS:
        raise AgmaError(f"joint_names has {len(names)} rows, expected {NUM_JOINTS}")
    if done != n * NUM_JOINTS:
        raise AgmaError(f"session {uid}: {done} joint rows for {n} frames (expected {NUM_JOINTS} each)")
    if n and not (np.array_equal(keys[:, 0], np.repeat(f[:, 0], NUM_JOINTS))
                  and np.array_equal(keys[:, 1], np.tile(np.arange(NUM_JOINTS), n))):
        raise AgmaError(f"session {uid}: joint rows do not match its frames")
    vals = vals.reshape(n, NUM_JOINTS, 11)
    return SessionExport(
        session=session, calibration=calibration, joint_names=names,
        frame_index=f[:, 0], t_ns=f[:, 1], valid_joints=f[:, 2],
        xyz_mm=vals[:, :, 0:3], confidence=vals[:, :, 3], left_uv_px=vals[:, :, 4:6], left_score=vals[:, :, 6],
        right_uv_px=vals[:, :, 7:9], right_score=vals[:, :, 9], epipolar_px=vals[:, :, 10],
        invalid_reason_code=codes.reshape(n, NUM_JOINTS),
        invalid_reason_names=tuple(r or "" for r in sorted(reason_code, key=reason_code.get)),
    )


# -- CSV ------------------------------------------------------------------------------------------------
def export_csv_long(conn: sqlite3.Connection, uid: str, path: Path, db_path: Path | str = "the database") -> list[Path]:
    """Tidy long layout: one row per stored frame and joint, the joint by name; NULL is an empty field."""
    conn.execute("BEGIN")
    try:
        s = find_session(conn, uid, db_path)
        rows = conn.execute(
            "SELECT j.frame_index, f.t_ns, n.name, j.x_mm, j.y_mm, j.z_mm, j.confidence, j.left_u, j.left_v, "
            "j.left_score, j.right_u, j.right_v, j.right_score, j.epipolar_px, j.invalid_reason "
            "FROM joints AS j JOIN frames AS f ON f.session_id = j.session_id AND f.frame_index = j.frame_index "
            "JOIN joint_names AS n ON n.joint = j.joint WHERE j.session_id = ? ORDER BY j.frame_index, j.joint",
            (s.id,))
        try:
            with open(path, "w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh, lineterminator="\n")
                w.writerow(LONG_COLUMNS)
                w.writerows(rows)  # floats as repr: the shortest text that reads back to the stored double
        except BaseException:  # rows are streamed: a read that fails half-way (a damaged page) leaves no half file
            Path(path).unlink(missing_ok=True)
            raise
    finally:
        conn.execute("COMMIT")
    return [Path(path)]


def export_csv_wide(data: SessionExport, path: Path) -> list[Path]:
    """One row per stored frame: frame_index, t_ns, valid_joints, then <joint>_x_mm/_y_mm/_z_mm/_confidence."""
    header = ["frame_index", "t_ns", "valid_joints"] + [f"{n}_{c}" for n in data.joint_names for c in WIDE_PER_JOINT]
    per = np.concatenate([data.xyz_mm, data.confidence[:, :, None]], axis=2).reshape(len(data.frame_index), -1)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        for lo in range(0, len(per), 4096):  # in chunks: lists of Python floats are large
            sl = slice(lo, lo + 4096)
            for fi, t, vj, row in zip(data.frame_index[sl].tolist(), data.t_ns[sl].tolist(),
                                      data.valid_joints[sl].tolist(), per[sl].tolist()):
                w.writerow([fi, t, vj, *("" if v != v else repr(v) for v in row)])
    return [Path(path)]


# -- C3D ------------------------------------------------------------------------------------------------
def c3d_stem(path: Path) -> Path:
    path = Path(path)
    return path.with_suffix("") if path.suffix.lower() == ".c3d" else path


def c3d_part_paths(path: Path, n_frames: int, part_frames: int = C3D_PART_FRAMES) -> list[Path]:
    """`path` itself when one part holds every frame, else <stem>.part01.c3d, <stem>.part02.c3d, ..."""
    n_parts = max(1, -(-n_frames // part_frames))
    if n_parts == 1:
        return [Path(path)]
    stem = c3d_stem(path)
    return [stem.with_name(f"{stem.name}.part{k + 1:02d}.c3d") for k in range(n_parts)]


def c3d_t_ns_path(path: Path) -> Path:
    stem = c3d_stem(path)
    return stem.with_name(stem.name + ".t_ns.csv")


def export_c3d(data: SessionExport, path: Path, part_frames: int = C3D_PART_FRAMES) -> list[Path]:
    """One C3D frame per frame_index from 0 to the last stored one (C3D frame 1 = frame_index 0 of the
    part's first frame), the 17 joints as points labelled with their COCO names, mm, at the session's
    nominal rate; invalid joints and dropped frames are invalid points (residual -1). Parts of at most
    `part_frames` frames; the timestamps go to <stem>.t_ns.csv. Returns the paths written."""
    if len(data.frame_index) == 0:
        raise AgmaError(f"session {data.uid} has no stored frames: nothing to write as C3D")
    n_total = int(data.frame_index[-1]) + 1
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    full = np.full((n_total, NUM_JOINTS, 3), np.nan)
    full[data.frame_index] = data.xyz_mm  # NaN where invalid; rows of dropped frames stay NaN
    paths = c3d_part_paths(path, n_total, part_frames)
    rate = float(data.session["fps_nominal"])
    for k, p in enumerate(paths):
        lo, hi = k * part_frames, min(n_total, (k + 1) * part_frames)
        agma = custom_group(4, "AGMA", "AGMA bedside box session")
        agma.add_str("SESSION_UID", data.uid, "Session uid")
        agma.add_int16("PART", k + 1, "Part number, from 1")
        agma.add_int16("PARTS", len(paths), "Number of parts")
        agma.add_float("FIRST_FRAME_INDEX", float(lo), "frame_index of this part's first C3D frame (frame 1)")
        agma.add_str("FRAME", "left rectified camera: X right, Y down, Z along the optical axis",
                     "Coordinate frame of the points")
        agma.add_str("TIMESTAMPS", c3d_t_ns_path(path).name, "File with each frame's capture time (ns)")
        maker = custom_group(5, "MANUFACTURER", "Software that wrote this file")
        maker.add_str("COMPANY", "AGMA bedside box", "Maker")
        maker.add_str("SOFTWARE", "agma", "Software")
        maker.add_str("VERSION_LABEL", __version__, "Software version")
        write_c3d(p, full[lo:hi], data.joint_names, rate, units="mm",
                  descriptions=[f"COCO-17 joint {j}" for j in range(NUM_JOINTS)], extra_groups=[agma, maker])
    t_path = c3d_t_ns_path(path)
    t_full = np.full(n_total, -1, dtype=np.int64)
    t_full[data.frame_index] = data.t_ns
    with open(t_path, "w", newline="", encoding="ascii") as fh:
        fh.write("frame_index,t_ns,part,c3d_frame\n")
        idx = np.arange(n_total)
        part, frame = idx // part_frames + 1, idx % part_frames + 1
        fh.writelines(f"{i},{'' if t < 0 else t},{p},{c}\n"
                      for i, t, p, c in zip(idx.tolist(), t_full.tolist(), part.tolist(), frame.tolist()))
    return [*paths, t_path]


# -- NPZ ------------------------------------------------------------------------------------------------
def calibration_record(cal: dict[str, Any]) -> np.ndarray:
    """The calibrations row as a 0-d structured array (loads without pickle): rec['fx'], rec['serial'] ..."""
    fields, values = [], []
    for k, v in cal.items():
        if isinstance(v, str) or v is None:
            s = "" if v is None else v
            fields.append((k, f"U{max(1, len(s))}"))
            values.append(s)
        elif isinstance(v, int):
            fields.append((k, "i8"))
            values.append(v)
        else:
            fields.append((k, "f8"))
            values.append(float(v))
    return np.array(tuple(values), dtype=fields)


def export_npz(data: SessionExport, path: Path) -> list[Path]:
    """xyz_mm (F,17,3) NaN where invalid, confidence, t_ns, frame_index, joint_names, calibration, and
    the 2D evidence; loads with np.load(path) (no pickle). invalid_reason_names[invalid_reason_code]
    gives each joint's reason ('' when valid)."""
    np.savez(
        path,
        xyz_mm=data.xyz_mm, confidence=data.confidence, t_ns=data.t_ns, frame_index=data.frame_index,
        joint_names=np.array(data.joint_names), valid=~np.isnan(data.xyz_mm).any(axis=2),
        invalid_reason_code=data.invalid_reason_code, invalid_reason_names=np.array(data.invalid_reason_names),
        valid_joints=data.valid_joints,
        left_uv_px=data.left_uv_px, left_score=data.left_score, right_uv_px=data.right_uv_px,
        right_score=data.right_score, epipolar_px=data.epipolar_px,
        calibration=calibration_record(data.calibration),
        session_uid=np.array(data.uid), fps_nominal=np.array(float(data.session["fps_nominal"])),
    )
    p = Path(path)
    return [p if p.suffix == ".npz" else p.with_name(p.name + ".npz")]  # np.savez adds .npz when missing


def export_session(conn: sqlite3.Connection, uid: str, fmt: str, path: Path, *, wide: bool = False,
                   db_path: Path | str = "the database") -> list[Path]:
    """Write one session in `fmt` (csv, c3d, npz) to `path`; returns every file written.

    A damaged page met while reading is one line (store/integrity.py), and no output is left."""
    if fmt not in FORMATS:
        raise AgmaError(f"unknown export format {fmt!r}; one of {', '.join(FORMATS)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with reading(db_path):
        if fmt == "csv" and not wide:
            return export_csv_long(conn, uid, path, db_path)
        data = load_session(conn, uid, db_path)
    if fmt == "csv":
        return export_csv_wide(data, path)
    if fmt == "c3d":
        return export_c3d(data, path)
    return export_npz(data, path)
