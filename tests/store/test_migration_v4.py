"""Schema version 4 -> 5: sessions gains a TensorRT engine's provenance (four nullable columns).

Why: a TensorRT engine is built on each box, so its file's sha256 (model_sha256) differs from box to
box and tells a researcher nothing; from version 5 a session also records the engine's ONNX sha256,
TensorRT version, precision and GPU. tests/store/fixtures/schema_v4.sql is a real v4 file written
by agma at schema version 4 (two ended sessions, one simulated, one with an ONNX model and its
sha256; one event waiting in mqtt_outbox). Opening it for writing must back it up complete, run the
named migration in one transaction, keep every row (the old sessions get NULL provenance: none of
them ran a TensorRT engine), keep the outbox, and leave a file equal to a fresh one; a dump of a
migrated session carries the new columns, NULL, and describes them.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.store import migrations, schema
from appliance.store.dump import dump_session
from appliance.store.writer import StoreWriter
from tests.store.test_migration_v1 import _structure

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v4.sql"
V4_TABLES = ("meta", "joint_names", "calibrations", "sessions", "frames", "joint_samples", "events", "mqtt_outbox",
             "ground_truth")
KEYED = ("frames", "joint_samples", "ground_truth")
ENGINE_COLUMNS = ["engine_onnx_sha256", "engine_tensorrt_version", "engine_precision", "engine_gpu"]
ONNX_SHA256 = "a7af7e3094668d997fa8203218fb244ea6ea67e1395f1342f93efd7534704f33"  # session 2's, in the fixture


def _v4_db(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    conn.execute("PRAGMA journal_mode = wal")
    conn.close()
    return path


def _snapshot(conn, cols: dict[str, list[str]] | None = None) -> tuple[dict[str, list[str]], dict[str, list[tuple]]]:
    cols = cols or {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in V4_TABLES}
    rows = {t: conn.execute(f"SELECT {', '.join(cols[t])} FROM {t} ORDER BY "
                            + ("1, 2, 3" if t in KEYED else "1")).fetchall() for t in V4_TABLES}
    return cols, rows


def _open_and_close(db: Path) -> list[str]:
    w = StoreWriter(db)
    w.start()
    w.stop()
    return w.migrations


def test_v4_database_migrates_with_null_provenance(tmp_path):
    db = _v4_db(tmp_path / "v4.sqlite")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
        cols, before = _snapshot(c)
        joints_before = c.execute("SELECT * FROM joints ORDER BY 1, 2, 3").fetchall()
    assert not set(ENGINE_COLUMNS) & set(cols["sessions"])
    assert len(before["sessions"]) == 2 and len(before["mqtt_outbox"]) == 1 and len(before["joint_samples"]) == 9 * 17
    assert [r[cols["sessions"].index("model_sha256")] for r in before["sessions"]] == [None, ONNX_SHA256]

    assert _open_and_close(db)[:1] == ["sessions.engine_*: a TensorRT engine's provenance"]

    with sqlite3.connect(f"{db}.v4.bak") as b:  # the backup: the v4 file as it was
        assert b.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert b.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("4",)
        assert _snapshot(b, cols)[1] == before

    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)
        session_cols = [r[1] for r in c.execute("PRAGMA table_info(sessions)")]
        assert session_cols[:len(cols["sessions"]) + 4] == cols["sessions"] + ENGINE_COLUMNS  # appended, in order
        _, after = _snapshot(c, cols)  # every old column of every table, row for row
        for t in V4_TABLES:
            if t not in ("events", "meta"):
                assert after[t] == before[t], t
        assert after["events"][:len(before["events"])] == before["events"]
        assert c.execute("SELECT * FROM joints ORDER BY 1, 2, 3").fetchall() == joints_before
        assert c.execute(f"SELECT {', '.join(ENGINE_COLUMNS)} FROM sessions ORDER BY id").fetchall() == \
            [(None,) * 4, (None,) * 4]
        detail = c.execute("SELECT detail FROM events WHERE kind = 'schema_migrated' ORDER BY id").fetchone()[0]
        assert detail.startswith("schema version 4 -> 5: sessions.engine_*") and f"{db}.v4.bak" in detail
        migrated = _structure(c)

    fresh = tmp_path / "fresh.sqlite"
    _open_and_close(fresh)
    with sqlite3.connect(fresh) as c:
        assert _structure(c) == migrated  # a migrated file and a fresh one are the same database

    uid = before["sessions"][1][cols["sessions"].index("uid")]
    with sqlite3.connect(dump_session(db, uid, tmp_path / "d.sqlite").path) as d:
        assert d.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert d.execute(f"SELECT model_sha256, {', '.join(ENGINE_COLUMNS)} FROM sessions").fetchall() == \
            [(ONNX_SHA256, None, None, None, None)]
        doc = {c: m for t, c, _, m in d.execute("SELECT * FROM data_dictionary") if t == "sessions"}
        assert set(ENGINE_COLUMNS) <= set(doc) and all("TensorRT" in doc[c] for c in ENGINE_COLUMNS)


def test_migrating_again_changes_nothing(tmp_path):
    """A migrated file is not backed up or migrated again (a second start is a no-op)."""
    db = _v4_db(tmp_path / "twice.sqlite")
    assert _open_and_close(db)
    assert _open_and_close(db) == []
    assert sorted(p.name for p in tmp_path.glob("*.bak")) == ["twice.sqlite.v4.bak"]
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT COUNT(*) FROM events WHERE kind = 'schema_migrated'").fetchone() == \
            (schema.SCHEMA_VERSION - 4,)


def test_the_migration_adds_the_declared_columns():
    """The migration's frozen column types equal today's declarations, appended after continues_session."""
    names = [c.name for c in schema.TABLE_BY_NAME["sessions"].columns]
    at = names.index("continues_session") + 1
    assert names[at:at + 4] == ENGINE_COLUMNS
    assert all(schema.TABLE_BY_NAME["sessions"].columns[at + i].decl == "TEXT" for i in range(4))
    [m] = [m for m in migrations.MIGRATIONS if m.from_version == 4]
    assert m.apply is migrations._v4_sessions_engine_provenance
