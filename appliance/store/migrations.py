"""Schema versions: ``meta.schema_version`` and the named forward migrations between them.

At start, under the write lock (store/lock.py), the writer calls ``check_version`` before it
writes anything (a file from a newer agma is refused, untouched) and then ``prepare``:

- an empty file gets the current schema (schema.create_schema);
- an older file is first copied with SQLite's online backup API to ``<db>.v<old>.bak`` (written
  to ``.part`` and renamed, so a ``.bak`` is always complete; an existing ``.bak`` is never
  overwritten), then each migration runs in its own transaction together with the new
  ``schema_version`` and an ``events`` row (kind ``schema_migrated``): a crash or error inside a
  migration leaves the file at the previous version, and the next start simply runs it again.

A migration that adds a column must append the same column last in ``schema.TABLES`` so that
fresh and migrated files are equal column for column (tests/store/test_migration_v1.py,
test_migration_v2.py, test_migration_v4.py, test_migration_v5.py). A migration's SQL is written out in full here, as it
was for its version: a later schema must not change what an old migration does.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .. import __version__
from ..errors import AgmaError
from ..files import fsync_dir, fsync_file
from .schema import SCHEMA_VERSION, create_schema

log = logging.getLogger(__name__)


class SchemaError(AgmaError):
    """The file's schema cannot be used by this agma (newer, or not an agma database)."""


@dataclass(frozen=True)
class Migration:
    """from_version -> from_version + 1; ``apply(conn)`` runs inside the migration's transaction."""

    from_version: int
    name: str
    apply: Callable[[sqlite3.Connection], None]


def _v1_sessions_continues_session(conn: sqlite3.Connection) -> None:
    # Appended last, as in schema.TABLES; NULL for every existing session (none is a continuation).
    conn.execute("ALTER TABLE sessions ADD COLUMN continues_session INTEGER REFERENCES sessions(id)")


_V3_JOINT_SAMPLES = """CREATE TABLE joint_samples (
  session_id INTEGER NOT NULL,
  frame_index INTEGER NOT NULL,
  joint INTEGER NOT NULL,
  x_10um INTEGER,
  y_10um INTEGER,
  z_10um INTEGER,
  left_u_mpx INTEGER,
  left_v_mpx INTEGER,
  left_score_e4 INTEGER,
  right_u_mpx INTEGER,
  right_v_mpx INTEGER,
  right_score_e4 INTEGER,
  invalid_code INTEGER,
  PRIMARY KEY (session_id, frame_index, joint)
) WITHOUT ROWID"""
_V3_REASONS = ((1, "not_detected"), (2, "low_score"), (3, "disparity_not_positive"), (4, "depth_out_of_range"),
               (5, "epipolar_error"))
_V3_JOINTS_VIEW = """CREATE VIEW joints AS
SELECT session_id,
       frame_index,
       joint,
       x_10um / 100.0 AS x_mm,
       y_10um / 100.0 AS y_mm,
       z_10um / 100.0 AS z_mm,
       min(left_score_e4, right_score_e4) / 10000.0 AS confidence,
       left_u_mpx / 1000.0 AS left_u,
       left_v_mpx / 1000.0 AS left_v,
       left_score_e4 / 10000.0 AS left_score,
       right_u_mpx / 1000.0 AS right_u,
       right_v_mpx / 1000.0 AS right_v,
       right_score_e4 / 10000.0 AS right_score,
       abs(left_v_mpx - right_v_mpx) / 1000.0 AS epipolar_px,
       CASE invalid_code """ + " ".join(f"WHEN {c} THEN '{r}'" for c, r in _V3_REASONS) + """ END AS invalid_reason
FROM joint_samples"""
_V3_TRAJECTORY_VIEW = """CREATE VIEW trajectory AS
SELECT s.uid AS session_uid, j.session_id, j.frame_index, f.t_ns, j.joint, n.name AS joint_name,
       j.x_mm, j.y_mm, j.z_mm, j.confidence, j.invalid_reason
FROM joints AS j
JOIN sessions AS s ON s.id = j.session_id
JOIN frames AS f ON f.session_id = j.session_id AND f.frame_index = j.frame_index
JOIN joint_names AS n ON n.joint = j.joint"""


def _v2_compact_joints(conn: sqlite3.Connection) -> None:
    """The joints table becomes joint_samples (whole numbers) read through the view joints.

    Every row is copied converted (round(value x scale): 0.01 mm, 0.001 px, scores x 10^4; NULL
    stays NULL; the reason -> its code); confidence and epipolar_px are computed by the view from
    then on. A reason without a code stops the migration (rolled back) rather than lose it.
    """
    known = ", ".join(f"'{r}'" for _, r in _V3_REASONS)
    unknown = conn.execute(f"SELECT DISTINCT invalid_reason FROM joints WHERE invalid_reason IS NOT NULL "
                           f"AND invalid_reason NOT IN ({known})").fetchall()
    if unknown:
        raise SchemaError(f"joints.invalid_reason holds {', '.join(repr(r[0]) for r in unknown)}, which schema "
                          f"version 3 has no code for; nothing was changed")
    conn.execute("DROP VIEW IF EXISTS trajectory")  # it reads joints: recreated over the view below
    conn.execute(_V3_JOINT_SAMPLES)
    cases = " ".join(f"WHEN '{r}' THEN {c}" for c, r in _V3_REASONS)
    conn.execute(f"""INSERT INTO joint_samples(session_id, frame_index, joint, x_10um, y_10um, z_10um, left_u_mpx,
        left_v_mpx, left_score_e4, right_u_mpx, right_v_mpx, right_score_e4, invalid_code)
        SELECT session_id, frame_index, joint,
               CAST(round(x_mm * 100) AS INTEGER), CAST(round(y_mm * 100) AS INTEGER), CAST(round(z_mm * 100) AS INTEGER),
               CAST(round(left_u * 1000) AS INTEGER), CAST(round(left_v * 1000) AS INTEGER),
               CAST(round(left_score * 10000) AS INTEGER),
               CAST(round(right_u * 1000) AS INTEGER), CAST(round(right_v * 1000) AS INTEGER),
               CAST(round(right_score * 10000) AS INTEGER),
               CASE invalid_reason {cases} END
        FROM joints ORDER BY session_id, frame_index, joint""")
    conn.execute("DROP TABLE joints")
    conn.execute(_V3_JOINTS_VIEW)
    conn.execute(_V3_TRAJECTORY_VIEW)


def _v3_mqtt_outbox(conn: sqlite3.Connection) -> None:
    # Created empty: every event already in the file counts as delivered, so enabling MQTT never
    # floods the monitoring desk with history (only events raised while MQTT is configured queue).
    conn.execute("CREATE TABLE mqtt_outbox (\n  event_id INTEGER PRIMARY KEY REFERENCES events(id),\n"
                 "  queued_at_ns INTEGER NOT NULL\n)")


def _v4_sessions_engine_provenance(conn: sqlite3.Connection) -> None:
    # Appended last, in this order, as in schema.TABLES; NULL for every existing session: before
    # schema version 5 no session recorded a TensorRT engine's provenance (and none ran one).
    for column in ("engine_onnx_sha256", "engine_tensorrt_version", "engine_precision", "engine_gpu"):
        conn.execute(f"ALTER TABLE sessions ADD COLUMN {column} TEXT")


def _v5_session_dumps(conn: sqlite3.Connection) -> None:
    # Created empty: schema version 5 kept no record of the pending dumps it wrote, so no existing
    # session counts as pulled (retention never deletes it) until its dump is acknowledged (`agma
    # dump --ack`), or the daemon finds its pending dump in store.dump_dir and later finds it removed.
    conn.execute("CREATE TABLE session_dumps (\n  session_id INTEGER PRIMARY KEY REFERENCES sessions(id),\n"
                 "  path TEXT,\n  sha256 TEXT,\n  written_at_ns INTEGER,\n  pulled_at_ns INTEGER,\n"
                 "  pulled_by TEXT CHECK (pulled_by IN ('ack', 'removed'))\n)")


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sessions.continues_session", _v1_sessions_continues_session),
    Migration(2, "joints stored compact: joint_samples and the view joints", _v2_compact_joints),
    Migration(3, "mqtt_outbox: events waiting for the broker", _v3_mqtt_outbox),
    Migration(4, "sessions.engine_*: a TensorRT engine's provenance", _v4_sessions_engine_provenance),
    Migration(5, "session_dumps: which sessions' dumps were pulled (retention)", _v5_session_dumps),
)


def _chain() -> dict[int, Migration]:
    by_from = {m.from_version: m for m in MIGRATIONS}
    assert len(by_from) == len(MIGRATIONS), "two migrations start from the same version"
    return by_from


def stored_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """meta.schema_version of the file; None for an empty file (no table yet). Reads only."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not tables:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() if "meta" in tables else None
    if row is None:
        raise SchemaError(f"{path}: not an agma database (no meta.schema_version; tables: "
                          f"{', '.join(sorted(tables))}); nothing was changed")
    try:
        return int(row[0])
    except ValueError:
        raise SchemaError(f"{path}: meta.schema_version is {row[0]!r}, not a number; nothing was changed") from None


def check_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The file's version, refused (SchemaError) when newer than this agma knows."""
    version = stored_version(conn, path)
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaError(
            f"{path}: database schema version {version} is newer than this agma {__version__} knows "
            f"(up to {SCHEMA_VERSION}); it was written by a newer agma: upgrade agma to record into it, "
            f"or record to another --db; nothing was changed")
    return version


def backup_path(path: Path, version: int) -> Path:
    """``<db>.v<version>.bak``, or a timestamped name beside it when that exists (never overwritten)."""
    bak = Path(f"{path}.v{version}.bak")
    if bak.exists():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        bak = Path(f"{path}.v{version}.{stamp}-{os.getpid()}.bak")
    return bak


def backup_copy(conn: sqlite3.Connection, path: Path, version: int) -> Path:
    """A complete, fsynced copy of the database (online backup API) before it is migrated."""
    bak = backup_path(path, version)
    part = Path(f"{bak}.part")  # a leftover from a killed backup is ours to overwrite
    if part.exists():
        part.unlink()
    dst = sqlite3.connect(part)
    try:
        conn.backup(dst)
    except BaseException:
        dst.close()
        part.unlink(missing_ok=True)  # an incomplete copy of our own making, not data
        raise
    dst.close()
    fsync_file(part)
    os.replace(part, bak)
    fsync_dir(bak.parent)
    return bak


def migrate(conn: sqlite3.Connection, path: Path, version: int) -> list[str]:
    """Apply every migration from ``version`` to SCHEMA_VERSION, one transaction each, after a backup."""
    chain = _chain()
    if version == SCHEMA_VERSION:
        return []
    missing = [v for v in range(version, SCHEMA_VERSION) if v not in chain]
    if missing:
        raise SchemaError(f"{path}: no migration from schema version {missing[0]}; nothing was changed")
    try:
        bak = backup_copy(conn, path, version)
    except sqlite3.Error as exc:
        raise SchemaError(f"{path}: cannot back up the database before migrating it ({exc}); nothing was changed") from None
    log.warning("%s: schema version %d -> %d; backup %s", path, version, SCHEMA_VERSION, bak)
    applied = []
    for v in range(version, SCHEMA_VERSION):
        m = chain[v]
        conn.execute("BEGIN IMMEDIATE")
        try:
            m.apply(conn)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(v + 1),))
            conn.execute("INSERT INTO events(session_id, t_ns, kind, detail) VALUES (NULL, ?, 'schema_migrated', ?)",
                         (time.time_ns(), f"schema version {v} -> {v + 1}: {m.name} (agma {__version__}; backup {bak})"))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(m.name)
    return applied


def prepare(conn: sqlite3.Connection, path: Path, version: int | None) -> list[str]:
    """Bring the file to SCHEMA_VERSION: create it (empty file) or migrate it; the names applied."""
    applied = [] if version is None else migrate(conn, path, version)
    create_schema(conn)  # idempotent: creates a fresh file, and the view/fixed rows of any file
    return applied
