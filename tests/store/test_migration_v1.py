"""Schema migrations: a walking-skeleton (v1) database is migrated with every row kept.

tests/store/fixtures/skeleton_v1.sql is a real v1 file written by the skeleton's code (one ended
session, one left open by a SIGKILLed recorder). `agma record` on it must: back it up first
(online backup API, a complete v1 copy), run each named migration in its own transaction, keep
every row, close the crashed session as interrupted, record its own session, and leave a file whose
columns equal a fresh file's, PRAGMA by PRAGMA. A file from a newer agma is refused untouched; a
migration that fails half-way leaves the file at the old version. The v1 file goes all the way to
the current version (v2, then compact joints in v3: its joints rows read back equal within the
rounding, tests/store/compact_rows.py).
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest

from appliance.store import migrations, schema
from appliance.store.writer import StoreWriter
from tests.helpers import agma, last_json
from tests.store.compact_rows import assert_joints_within_rounding

FIXTURE = Path(__file__).parent / "fixtures" / "skeleton_v1.sql"
V1_TABLES = ("meta", "joint_names", "calibrations", "sessions", "frames", "joints", "events", "ground_truth")


def _v1_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    conn.execute("PRAGMA journal_mode = wal")
    conn.close()
    return path


def _v1_columns(conn, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def _rows(conn, table: str, columns: list[str]) -> list[tuple]:
    return conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {columns[0]}, rowid"
                        if table not in ("frames", "joints", "ground_truth")
                        else f"SELECT {', '.join(columns)} FROM {table} ORDER BY 1, 2, 3").fetchall()


def _structure(conn) -> dict:
    out = {}
    for t in schema.TABLES:
        out[t.name] = (conn.execute(f"PRAGMA table_info({t.name})").fetchall(),
                       conn.execute(f"PRAGMA foreign_key_list({t.name})").fetchall(),
                       [r[1:] for r in conn.execute(f"PRAGMA index_list({t.name})")])
    out["objects"] = sorted(conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    return out


def test_skeleton_database_migrates_keeping_every_row(tmp_path):
    db = _v1_db(tmp_path / "old.sqlite")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        cols = {t: _v1_columns(c, t) for t in V1_TABLES}
        before = {t: _rows(c, t, cols[t]) for t in V1_TABLES}
        open_id, open_started = c.execute("SELECT id, started_at_ns FROM sessions WHERE end_reason IS NULL").fetchone()
        last_t = c.execute("SELECT MAX(t_ns) FROM frames WHERE session_id = ?", (open_id,)).fetchone()[0]
    assert "continues_session" not in cols["sessions"] and len(before["sessions"]) == 2 and before["joints"]

    proc = agma("record", "--duration", "0.1", "--as-fast-as-possible", "--db", str(db), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = last_json(proc)

    # the backup: a complete copy of the v1 file, taken before anything changed
    bak = Path(f"{db}.v1.bak")
    with sqlite3.connect(bak) as b:
        assert b.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert {t: _rows(b, t, cols[t]) for t in V1_TABLES} == before

    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)
        after = {t: _rows(c, t, cols[t]) for t in V1_TABLES}
        for t in ("joint_names", "calibrations", "frames", "ground_truth"):
            assert set(before[t]) <= set(after[t]), t  # every old row, unchanged (new session's rows added)
        assert assert_joints_within_rounding(before["joints"], after["joints"], cols["joints"]) > 0
        assert set(before["events"]) <= set(after["events"])
        # sessions: the ended one unchanged; the crashed one closed as interrupted, nothing else changed
        old = {r[0]: r for r in before["sessions"]}
        new = {r[0]: r for r in after["sessions"]}
        ended_i, reason_i = cols["sessions"].index("ended_at_ns"), cols["sessions"].index("end_reason")
        for sid, row in old.items():
            if sid != open_id:
                assert new[sid] == row
            else:
                expect = list(row)
                expect[ended_i], expect[reason_i] = last_t if last_t is not None else open_started, "interrupted"
                assert new[sid] == tuple(expect)
        assert c.execute("SELECT continues_session FROM sessions").fetchall() == [(None,)] * 3
        assert c.execute("SELECT uid, end_reason FROM sessions WHERE id = 3").fetchone() == (summary["session_id"], "duration")
        details = [r[0] for r in c.execute("SELECT detail FROM events WHERE kind = 'schema_migrated' ORDER BY id")]
        assert len(details) == schema.SCHEMA_VERSION - 1 and all(str(bak) in d for d in details)
        assert "1 -> 2: sessions.continues_session" in details[0]
        assert "2 -> 3: joints stored compact" in details[1]
        migrated = _structure(c)

    fresh = tmp_path / "fresh.sqlite"
    w = StoreWriter(fresh)
    w.start()
    w.stop()
    with sqlite3.connect(fresh) as c:
        assert _structure(c) == migrated  # a migrated file and a fresh one are the same database


def test_existing_backup_is_never_overwritten(tmp_path):
    db = _v1_db(tmp_path / "b.sqlite")
    Path(f"{db}.v1.bak").write_bytes(b"an older backup, kept as it is")
    w = StoreWriter(db)
    w.start()
    w.stop()
    assert Path(f"{db}.v1.bak").read_bytes() == b"an older backup, kept as it is"
    (other,) = [p for p in tmp_path.glob("b.sqlite.v1.*.bak")]
    with sqlite3.connect(other) as b:
        assert b.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)


def test_newer_database_refused_untouched(tmp_path):
    db = _v1_db(tmp_path / "new.sqlite")
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    sqlite3.connect(db).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    proc = agma("record", "--duration", "0.1", "--as-fast-as-possible", "--db", str(db), "--json")
    assert proc.returncode == 1 and proc.stdout.count("\n") == 1 and last_json(proc)["ok"] is False
    (line,) = proc.stderr.strip().splitlines()
    assert "schema version 99" in line and "newer" in line and f"up to {schema.SCHEMA_VERSION}" in line
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest
    assert not list(tmp_path.glob("*.bak"))


def test_failed_migration_leaves_the_old_version(tmp_path, monkeypatch):
    """Each migration is one transaction: a failure after its ALTER TABLE rolls the ALTER back too."""
    db = _v1_db(tmp_path / "f.sqlite")
    real = migrations.MIGRATIONS[0]

    def half_then_fail(conn):
        real.apply(conn)
        raise RuntimeError("simulated failure inside the migration")

    monkeypatch.setattr(migrations, "MIGRATIONS",
                        (migrations.Migration(1, "failing", half_then_fail), *migrations.MIGRATIONS[1:]))
    w = StoreWriter(db)
    with pytest.raises(RuntimeError, match="simulated failure"):
        w.start()
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
        assert "continues_session" not in _v1_columns(c, "sessions")
        assert c.execute("SELECT COUNT(*) FROM events WHERE kind = 'schema_migrated'").fetchone() == (0,)
    assert Path(f"{db}.v1.bak").exists()
    monkeypatch.undo()
    w = StoreWriter(db)  # the lock was released by the failed start; the real migration now runs
    w.start()
    w.stop()
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)
