"""Schema version 5 -> 6: session_dumps, the box's record of which sessions' dumps were pulled.

Why: retention (store.keep_days) may delete a session only once its dump has been pulled, and
schema version 5 kept no record of the dumps it wrote. tests/store/fixtures/schema_v5.sql is a
real v5 file written by agma at schema version 5 (two ended sessions, one event waiting in
mqtt_outbox). Opening it for writing must back it up complete, run the named migration in one
transaction, keep every row and the outbox, create session_dumps empty (no old session counts as
pulled, so retention deletes none of them), and leave a file equal to a fresh one; a dump of a
migrated session leaves session_dumps out (not research data).
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from appliance.store import migrations, retention, schema
from appliance.store.dump import dump_session
from appliance.store.writer import StoreWriter
from tests.store.test_migration_v1 import _structure

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v5.sql"
V5_TABLES = ("meta", "joint_names", "calibrations", "sessions", "frames", "joint_samples", "events", "mqtt_outbox",
             "ground_truth")
KEYED = ("frames", "joint_samples", "ground_truth")
DAY_NS = 86_400 * 10**9


def _v5_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    conn.execute("PRAGMA journal_mode = wal")
    conn.close()
    return path


def _snapshot(conn) -> dict[str, list[tuple]]:
    return {t: conn.execute(f"SELECT * FROM {t} ORDER BY " + ("1, 2, 3" if t in KEYED else "1")).fetchall()
            for t in V5_TABLES}


def _open_and_close(db: Path) -> list[str]:
    w = StoreWriter(db)
    w.start()
    w.stop()
    return w.migrations


def test_v5_database_migrates_with_no_session_pulled(tmp_path):
    db = _v5_db(tmp_path / "v5.sqlite")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)
        assert "session_dumps" not in {r[0] for r in c.execute("SELECT name FROM sqlite_master")}
        before = _snapshot(c)
        joints_before = c.execute("SELECT * FROM joints ORDER BY 1, 2, 3").fetchall()
    assert len(before["sessions"]) == 2 and len(before["mqtt_outbox"]) == 1
    assert len(before["frames"]) == 6 + 3 and len(before["joint_samples"]) == 9 * 17

    assert _open_and_close(db) == ["session_dumps: which sessions' dumps were pulled (retention)"]

    with sqlite3.connect(f"{db}.v5.bak") as b:  # the backup: the v5 file as it was
        assert b.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert b.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)
        assert _snapshot(b) == before

    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("6",)
        after = _snapshot(c)
        for t in V5_TABLES:
            if t not in ("events", "meta"):
                assert after[t] == before[t], t
        assert after["events"][:len(before["events"])] == before["events"]
        assert c.execute("SELECT * FROM joints ORDER BY 1, 2, 3").fetchall() == joints_before
        assert c.execute("SELECT COUNT(*) FROM session_dumps").fetchone() == (0,)
        detail = c.execute("SELECT detail FROM events WHERE kind = 'schema_migrated'").fetchone()[0]
        assert detail.startswith("schema version 5 -> 6: session_dumps") and f"{db}.v5.bak" in detail
        # no old session counts as pulled: a year from now retention still deletes none of them
        assert retention.prunable(c, time.time_ns() + 365 * DAY_NS, 30) == []
        migrated = _structure(c)

    fresh = tmp_path / "fresh.sqlite"
    _open_and_close(fresh)
    with sqlite3.connect(fresh) as c:
        assert _structure(c) == migrated  # a migrated file and a fresh one are the same database

    uid = before["sessions"][0][1]
    with sqlite3.connect(dump_session(db, uid, tmp_path / "d.sqlite").path) as d:
        assert d.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = {r[0] for r in d.execute("SELECT name FROM sqlite_master")}
        assert "session_dumps" not in names and "mqtt_outbox" not in names
        assert d.execute("SELECT uid FROM sessions").fetchall() == [(uid,)]


def test_the_migration_creates_the_declared_table(tmp_path):
    """The migration's frozen DDL equals today's declaration, column for column (names, types, checks)."""
    conn = sqlite3.connect(tmp_path / "m.sqlite")
    conn.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY)")
    migrations._v5_session_dumps(conn)
    fresh = sqlite3.connect(":memory:")
    fresh.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY)")
    fresh.execute(schema.TABLE_BY_NAME["session_dumps"].ddl())
    info = "SELECT * FROM pragma_table_info('session_dumps')"
    assert conn.execute(info).fetchall() == fresh.execute(info).fetchall()
    assert [c.name for c in schema.TABLE_BY_NAME["session_dumps"].columns] == \
        ["session_id", "path", "sha256", "written_at_ns", "pulled_at_ns", "pulled_by"]
    [m] = [m for m in migrations.MIGRATIONS if m.from_version == 5]
    assert m.apply is migrations._v5_session_dumps
    conn.execute("INSERT INTO sessions VALUES (1)")
    try:  # the CHECK is the migration's too
        conn.execute("INSERT INTO session_dumps(session_id, pulled_by) VALUES (1, 'lost')")
        raise AssertionError("pulled_by 'lost' was accepted")
    except sqlite3.IntegrityError:
        pass
