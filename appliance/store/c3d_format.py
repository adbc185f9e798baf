"""A small C3D writer: float 3D points, no analog channels, Intel byte order.

Written here rather than through a library: ezc3d has no wheel for the Jetson (Linux aarch64) and
its source build needs CMake and SWIG, and the pure-Python ``c3d`` package's writer loops per
frame in Python and keeps the previous frame's coordinates for an invalid point. This writer
builds a whole part with NumPy in one pass; the tests read every file back with both ezc3d and
``c3d`` (two readers independent of this code and of each other).

Layout (C3D.ORG, "The C3D File Format User Guide"): 512-byte blocks; block 1 the header, blocks
2.. the parameter section, then the data section. POINT:SCALE < 0 means float data: each point is
four float32 words, X, Y, Z and a fourth word whose integer value holds the residual in its low
byte and the camera mask in the next (see VALID_WORD); -1 marks the point invalid.
"""
from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BLOCK = 512
PROCESSOR_INTEL = 84
MAX_FRAMES = 65535  # the header's frame numbers are 16-bit words

# 4th word of a valid point: 0, a residual of 0 ("valid, no residual computed": a two-view
# triangulation has none) and no camera mask. Readers disagree on which byte of this word holds the
# camera mask and which the residual (ezc3d writes the mask in the low byte, the c3d package reads it
# from the high byte), so any mask would read back differently; 0 reads back as 0 in both.
VALID_WORD = 0.0
INVALID_WORD = -1.0


@dataclass
class _Param:
    name: str
    desc: str
    type_len: int  # -1 char, 1 byte, 2 int16, 4 float32
    dims: tuple[int, ...]
    data: bytes


@dataclass
class _Group:
    gid: int
    name: str
    desc: str
    params: list[_Param] = field(default_factory=list)

    def add_int16(self, name: str, value: int, desc: str) -> None:
        self.params.append(_Param(name, desc, 2, (), struct.pack("<h", value if value < 32768 else value - 65536)))

    def add_float(self, name: str, value: float, desc: str) -> None:
        self.params.append(_Param(name, desc, 4, (), struct.pack("<f", value)))

    def add_floats(self, name: str, values: Sequence[float], desc: str) -> None:
        self.params.append(_Param(name, desc, 4, (len(values),), struct.pack(f"<{len(values)}f", *values)))

    def add_str(self, name: str, value: str, desc: str) -> None:
        """A char parameter: C3D text is ASCII ('?' stands for anything else), at most 255 characters."""
        b = value.encode("ascii", "replace")[:255] or b" "
        self.params.append(_Param(name, desc, -1, (len(b),), b))

    def add_strs(self, name: str, values: Sequence[str], desc: str, width: int | None = None) -> None:
        """A char array of len(values) strings padded with spaces to one width (C3D's fixed-width labels)."""
        w = max([width or 1] + [len(v) for v in values])
        if w > 255 or len(values) > 255:
            raise ValueError(f"{name}: C3D dimensions are bytes (<= 255)")
        data = b"".join(v.encode("ascii").ljust(w) for v in values)
        self.params.append(_Param(name, desc, -1, (w, len(values)), data))


def _check_name(name: str) -> bytes:
    b = name.encode("ascii")
    if not b or len(b) > 127 or not name.replace("_", "").isalnum() or name != name.upper():
        raise ValueError(f"C3D group/parameter names are upper-case letters, digits and _, got {name!r}")
    return b


def _group_record(g: _Group) -> bytes:
    name, desc = _check_name(g.name), g.desc.encode("ascii")[:255]
    return struct.pack("<bb", len(name), -g.gid) + name + struct.pack("<h", 2 + 1 + len(desc)) + bytes([len(desc)]) + desc


def _param_record(gid: int, p: _Param, last: bool) -> bytes:
    name, desc = _check_name(p.name), p.desc.encode("ascii")[:255]
    body = struct.pack("<bB", p.type_len, len(p.dims)) + bytes(p.dims) + p.data + bytes([len(desc)]) + desc
    n_elems = int(np.prod(p.dims)) if p.dims else 1
    if len(p.data) != n_elems * abs(p.type_len):
        raise ValueError(f"{p.name}: {len(p.data)} data bytes for dimensions {p.dims}")
    offset = 0 if last else 2 + len(body)  # the offset counts from its own first byte; 0 ends the section
    return struct.pack("<bb", len(name), gid) + name + struct.pack("<h", offset) + body


def write_c3d(path: Path, points: np.ndarray, labels: Sequence[str], rate_hz: float, *,
              units: str = "mm", descriptions: Sequence[str] | None = None,
              extra_groups: Sequence[_Group] = (), x_screen: str = "+X", y_screen: str = "-Y") -> None:
    """Write `points` (F, N, 3) float, NaN where a point is invalid, as a float C3D file of F frames.

    The first frame is numbered 1 (C3D's convention). A point with any NaN coordinate is written as
    (0, 0, 0) with the fourth word -1 (invalid); a valid point's fourth word is VALID_WORD.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 3 or pts.shape[2] != 3:
        raise ValueError(f"points must be (frames, points, 3), got {pts.shape}")
    n_frames, n_points = pts.shape[:2]
    if not 1 <= n_frames <= MAX_FRAMES:
        raise ValueError(f"a C3D file holds 1..{MAX_FRAMES} frames, got {n_frames}")
    if len(labels) != n_points:
        raise ValueError(f"{len(labels)} labels for {n_points} points")

    point = _Group(1, "POINT", "3D point data")
    analog = _Group(2, "ANALOG", "Analog data (none)")
    trial = _Group(3, "TRIAL", "Trial frame range")
    groups = [point, analog, trial, *extra_groups]

    # data_start depends on the parameter section's size, which holds DATA_START itself (fixed size)
    point.add_int16("USED", n_points, "Number of 3D points per frame")
    point.add_float("SCALE", -1.0, "Negative: float data; |SCALE| scales the residual")
    point.add_float("RATE", float(rate_hz), "3D frame rate (frames/s)")
    point.add_int16("DATA_START", 0, "First block of the data section")
    point.add_int16("FRAMES", n_frames, "Number of 3D frames (read as unsigned)")
    point.add_str("UNITS", units, "Units of the 3D coordinates")
    point.add_strs("LABELS", list(labels), "Point labels")
    point.add_strs("DESCRIPTIONS", list(descriptions) if descriptions is not None else [""] * n_points,
                   "Point descriptions")
    point.add_str("X_SCREEN", x_screen, "Axis pointing right on screen")
    point.add_str("Y_SCREEN", y_screen, "Axis pointing up on screen")
    analog.add_int16("USED", 0, "Number of analog channels")
    analog.add_float("RATE", 0.0, "Analog sample rate")
    analog.add_float("GEN_SCALE", 1.0, "General analog scale")
    analog.add_floats("SCALE", [], "Per-channel scale")
    analog.params.append(_Param("OFFSET", "Per-channel offset", 2, (0,), b""))
    analog.add_strs("LABELS", [], "Analog labels")
    # ACTUAL_START/END_FIELD: two 16-bit words each (low, high) holding a 32-bit frame number
    trial.params.append(_Param("ACTUAL_START_FIELD", "First frame number", 2, (2,), struct.pack("<HH", 1, 0)))
    trial.params.append(_Param("ACTUAL_END_FIELD", "Last frame number", 2, (2,),
                               struct.pack("<HH", n_frames & 0xFFFF, n_frames >> 16)))

    def section(data_start: int) -> bytes:
        next(p for p in point.params if p.name == "DATA_START").data = struct.pack("<h", data_start)
        records = [_group_record(g) for g in groups]
        flat = [(g.gid, p) for g in groups for p in g.params]
        records += [_param_record(gid, p, last=(i == len(flat) - 1)) for i, (gid, p) in enumerate(flat)]
        body = b"".join(records)
        n_blocks = -(-(4 + len(body)) // BLOCK)
        if n_blocks > 255:
            raise ValueError("parameter section too large")
        head = struct.pack("<BBBB", 1, 0x50, n_blocks, PROCESSOR_INTEL)
        return (head + body).ljust(n_blocks * BLOCK, b"\0")

    params = section(0)
    data_start = 2 + len(params) // BLOCK  # block numbers are 1-based: header is block 1
    params = section(data_start)

    header = struct.pack(
        "<BBHHHHHfHHf", 2, 0x50, n_points, 0, 1, n_frames, 0, -1.0, data_start, 0, float(rate_hz))
    header = header.ljust(BLOCK, b"\0")
    assert len(header) == BLOCK and len(params) == (data_start - 2) * BLOCK

    raw = np.zeros((n_frames, n_points, 4), dtype="<f4")
    valid = np.isfinite(pts).all(axis=2)
    raw[..., :3] = np.where(valid[..., None], pts, 0.0)
    raw[..., 3] = np.where(valid, VALID_WORD, INVALID_WORD)
    data = raw.tobytes()
    pad = (-len(data)) % BLOCK
    with open(path, "wb") as f:
        f.write(header)
        f.write(params)
        f.write(data)
        f.write(b"\0" * pad)


def custom_group(gid: int, name: str, desc: str) -> _Group:
    """A parameter group of the caller's (e.g. AGMA) to pass as extra_groups."""
    return _Group(gid, name, desc)
