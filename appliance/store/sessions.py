"""Session rows: open, close, events, calibration rows. Each takes the writer's connection.

Run them through ``StoreWriter.call`` so that the writer thread stays the only one writing.
"""
from __future__ import annotations

import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from ..events import check_kind
from ..frames import RectifiedCalibration
from .schema import END_REASONS


def new_uid(box_id: str, started_at_ns: int) -> str:
    """<box_id>-<UTC yyyymmddThhmmssZ>-<4 hex>: readable, sortable, unique enough per box."""
    stamp = datetime.fromtimestamp(started_at_ns / 1e9, tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{box_id}-{stamp}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class SessionRow:
    id: int
    uid: str
    started_at_ns: int


def calibration_id(conn: sqlite3.Connection, c: RectifiedCalibration) -> int:
    """The calibrations row equal to c, inserted when there is none."""
    values = (c.serial, c.resolution, c.width, c.height, c.fx, c.fy, c.cx, c.cy, c.baseline_mm, c.source, c.file_sha256)
    row = conn.execute(
        "SELECT id FROM calibrations WHERE serial = ? AND resolution = ? AND width = ? AND height = ? AND fx = ? "
        "AND fy = ? AND cx = ? AND cy = ? AND baseline_mm = ? AND source = ? AND file_sha256 IS ?", values).fetchone()
    if row:
        return row[0]
    cur = conn.execute(
        "INSERT INTO calibrations(serial, resolution, width, height, fx, fy, cx, cy, baseline_mm, source, file_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
    return cur.lastrowid


def add_event(conn: sqlite3.Connection, session_id: int | None, kind: str, detail: str | None = None,
              t_ns: int | None = None) -> None:
    """One events row; kind must be one of appliance/events.py EVENT_KINDS (ValueError otherwise)."""
    conn.execute("INSERT INTO events(session_id, t_ns, kind, detail) VALUES (?, ?, ?, ?)",
                 (session_id, time.time_ns() if t_ns is None else t_ns, check_kind(kind), detail))


def open_session(conn: sqlite3.Connection, *, box_id: str, bed_label: str, source: str, model: str,
                 model_sha256: str | None, decoder: str | None, fps_nominal: float,
                 calibration: RectifiedCalibration, software_version: str, started_at_ns: int | None = None,
                 continues_session: int | None = None, engine_onnx_sha256: str | None = None,
                 engine_tensorrt_version: str | None = None, engine_precision: str | None = None,
                 engine_gpu: str | None = None) -> SessionRow:
    """Insert an open session (end_reason NULL) and its session_started event.

    continues_session: sessions.id of the interrupted session this one resumes (store/recovery.py),
    recorded in the row and in a session_continues event; None for a new recording.
    engine_*: a TensorRT engine's provenance from its sidecar (pose.engine.EngineProvenance: the
    ONNX sha256 it was built from, TensorRT version, precision, GPU); None for any other model.
    """
    started = time.time_ns() if started_at_ns is None else started_at_ns
    uid = new_uid(box_id, started)
    cal_id = calibration_id(conn, calibration)
    cur = conn.execute(
        "INSERT INTO sessions(uid, box_id, bed_label, started_at_ns, source, model, model_sha256, decoder, "
        "fps_nominal, calibration_id, software_version, continues_session, engine_onnx_sha256, "
        "engine_tensorrt_version, engine_precision, engine_gpu) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (uid, box_id, bed_label, started, source, model, model_sha256, decoder, fps_nominal, cal_id, software_version,
         continues_session, engine_onnx_sha256, engine_tensorrt_version, engine_precision, engine_gpu))
    add_event(conn, cur.lastrowid, "session_started", f"source={source} model={model}", started)
    if continues_session is not None:
        prev_uid, prev_end = conn.execute("SELECT uid, ended_at_ns FROM sessions WHERE id = ?",
                                          (continues_session,)).fetchone()
        gap = f", {(started - prev_end) / 1e9:.1f} s after its last stored frame" if prev_end is not None else ""
        add_event(conn, cur.lastrowid, "session_continues", f"continues {prev_uid} (interrupted){gap}", started)
    return SessionRow(id=cur.lastrowid, uid=uid, started_at_ns=started)


def close_session(conn: sqlite3.Connection, session_id: int, end_reason: str, dropped_frames: int,
                  detail: str | None = None, ended_at_ns: int | None = None) -> None:
    if end_reason not in END_REASONS:
        raise ValueError(f"unknown end reason {end_reason!r}")
    ended = time.time_ns() if ended_at_ns is None else ended_at_ns
    conn.execute("UPDATE sessions SET ended_at_ns = ?, end_reason = ?, dropped_frames = ? WHERE id = ?",
                 (ended, end_reason, dropped_frames, session_id))
    add_event(conn, session_id, "session_ended", f"{end_reason}" + (f": {detail}" if detail else ""), ended)
