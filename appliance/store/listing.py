"""Read-only access to a database (the box's, or a dump): open it, find a session, list sessions.

Readers never write and never need the recorder's lock: they open the file read-only, and SQLite's
WAL gives each read transaction a consistent snapshot while a recorder goes on committing.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import AgmaError
from ..joints import NUM_JOINTS


def readonly_uri(db_path: Path) -> str:
    """The file: URI that opens (or ATTACHes) db_path read-only; the connection needs uri=True."""
    return Path(db_path).resolve().as_uri() + "?mode=ro"


def untouched_uri(db_path: Path) -> str:
    """A read-only URI that also creates nothing beside the file (`agma doctor`, which never writes).

    A plain read-only connection to a WAL database with no connection open makes ``-wal`` and
    ``-shm`` files and leaves them. So with both already there (a writer has it open, or was
    killed with it open) this is readonly_uri: SQLite's shared index, the ``-shm``, is used as
    every reader uses it; otherwise ``immutable=1``: no lock, no ``-shm``, the file as it is (no
    writer is connected: it would have made the ``-wal``).
    """
    p = Path(db_path)
    live = Path(f"{p}-wal").exists() and Path(f"{p}-shm").exists()
    return readonly_uri(p) + ("" if live else "&immutable=1")


def open_readonly(db_path: Path) -> sqlite3.Connection:
    """Open an existing database read-only (never creates one), explicit transactions, 5 s busy timeout."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise AgmaError(f"no database at {db_path}")
    conn = sqlite3.connect(readonly_uri(db_path), uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    try:
        conn.execute("SELECT 1 FROM sessions LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        conn.close()
        if "malformed" in str(exc):  # an SQLite file, damaged: say how to recover it (store/integrity.py)
            from .integrity import damaged

            raise damaged(db_path, str(exc), writing=False) from None
        raise AgmaError(f"{db_path} is not an agma database ({exc})") from None
    return conn


@dataclass(frozen=True)
class SessionRef:
    id: int
    uid: str
    calibration_id: int
    started_at_ns: int
    ended_at_ns: int | None
    end_reason: str | None
    fps_nominal: float


def find_session(conn: sqlite3.Connection, uid: str, db_path: Path | str = "the database",
                 schema: str = "main") -> SessionRef:
    """The session whose uid is `uid` (in the attached database `schema`), or an AgmaError that says how to list them."""
    row = conn.execute("SELECT id, uid, calibration_id, started_at_ns, ended_at_ns, end_reason, fps_nominal "
                       f"FROM {schema}.sessions WHERE uid = ?", (uid,)).fetchone()
    if row is None:
        raise AgmaError(f"no session {uid!r} in {db_path} (`agma sessions --db {db_path}` lists them)")
    return SessionRef(*row)


def utc_iso(t_ns: int | None) -> str | None:
    if t_ns is None:
        return None
    return datetime.fromtimestamp(t_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


_LIST_SQL = """
SELECT s.uid, s.box_id, s.bed_label, s.started_at_ns, s.ended_at_ns, s.end_reason, s.source, s.model,
       s.fps_nominal, s.frames, s.dropped_frames, f.n, f.valid, f.first_t_ns, f.last_t_ns
FROM sessions AS s
LEFT JOIN (SELECT session_id, COUNT(*) AS n, SUM(valid_joints) AS valid, MIN(t_ns) AS first_t_ns, MAX(t_ns) AS last_t_ns
           FROM frames GROUP BY session_id) AS f ON f.session_id = s.id
ORDER BY s.started_at_ns, s.id"""


def list_sessions(conn: sqlite3.Connection, db_path: Path | str | None = None) -> list[dict[str, Any]]:
    """One dict per session, oldest first; every figure from committed rows.

    duration_s: ended_at_ns - started_at_ns for a closed session; for an open one (end_reason None),
    up to its last committed frame. recorded_s: the span of the stored frames' capture times plus
    one frame period (differs from duration_s for offline work, --as-fast-as-possible, whose frames
    carry the source's timestamps). valid_joint_ratio: valid joints / (17 x stored frames), None
    without frames. db_path names the file in the one line a damaged page gives (store/integrity.py).
    """
    from .integrity import reading

    out = []
    with reading(db_path or conn.execute("PRAGMA database_list").fetchone()[2]):  # a damaged page: one line
        conn.execute("BEGIN")  # one snapshot for the whole listing
        try:
            rows = conn.execute(_LIST_SQL).fetchall()
        finally:
            conn.execute("COMMIT")
    for (uid, box_id, bed, start, end, reason, source, model, fps, frames, dropped, n, valid, first_t, last_t) in rows:
        stop = end if end is not None else last_t
        out.append({
            "session_id": uid,
            "box_id": box_id,
            "bed_label": bed,
            "started_at_utc": utc_iso(start),
            "started_at_ns": start,
            "ended_at_ns": end,
            "duration_s": (stop - start) / 1e9 if stop is not None else None,
            "recorded_s": (last_t - first_t) / 1e9 + 1.0 / fps if n else None,
            "frames": n or 0,
            "dropped_frames": dropped,
            "valid_joint_ratio": (valid / (NUM_JOINTS * n)) if n else None,
            "end_reason": reason,
            "source": source,
            "model": model,
            "fps_nominal": fps,
        })
    return out


def format_table(sessions: list[dict[str, Any]]) -> str:
    """The human listing: one line per session, columns aligned."""
    head = ("session", "bed", "start (UTC)", "duration", "frames", "valid", "end", "model")
    rows = []
    for s in sessions:
        d = s["duration_s"]
        dur = "-" if d is None else f"{int(d // 3600)}:{int(d % 3600 // 60):02d}:{d % 60:04.1f}"
        ratio = "-" if s["valid_joint_ratio"] is None else f"{100 * s['valid_joint_ratio']:.1f} %"
        rows.append((s["session_id"], s["bed_label"] or "-", (s["started_at_utc"] or "").replace("T", " "), dur,
                     str(s["frames"]), ratio, s["end_reason"] or "(open)", s["model"]))
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    right = {3, 4, 5}
    fmt = lambda r: "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([fmt(head), *map(fmt, rows)])
