"""Schema version 2 -> 3: the joints table becomes joint_samples (whole numbers) and the view joints.

tests/store/fixtures/schema_v2.sql is a real v2 file written by agma at schema version 2 (two ended
sessions, the simulated heatmap model's real scores, low_score, epipolar_error and
depth_out_of_range joints). Opening it for writing must back it up, migrate it in one named
transaction, and leave every joints row readable under the same SELECT, equal within the rounding
(tests/store/compact_rows.py), every other row unchanged, and a file equal to a fresh one. A
reason the migration has no code for stops it, rolled back; a dump of the migrated file is complete.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from appliance.store import migrations, schema
from appliance.store.dump import dump_session
from appliance.store.migrations import SchemaError
from appliance.store.writer import StoreWriter
from tests.store.compact_rows import assert_joints_within_rounding
from tests.store.test_migration_v1 import _structure

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v2.sql"
V2_TABLES = ("meta", "joint_names", "calibrations", "sessions", "frames", "joints", "events", "ground_truth")
KEYED = ("frames", "joints", "ground_truth")


def _v2_db(path: Path, extra_sql: str = "") -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(FIXTURE.read_text())
    if extra_sql:
        conn.executescript(extra_sql)
    conn.execute("PRAGMA journal_mode = wal")
    conn.close()
    return path


def _snapshot(conn, cols: dict[str, list[str]] | None = None) -> tuple[dict[str, list[str]], dict[str, list[tuple]]]:
    cols = cols or {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in V2_TABLES}
    rows = {t: conn.execute(f"SELECT {', '.join(cols[t])} FROM {t} ORDER BY "
                            + ("1, 2, 3" if t in KEYED else "1")).fetchall() for t in V2_TABLES}
    return cols, rows


def _open_and_close(db: Path) -> list[str]:
    w = StoreWriter(db)
    w.start()
    w.stop()
    return w.migrations


# A joint the left view missed (NaN 2D position -> NULL): the NULL rules must survive the conversion.
NOT_DETECTED = ("INSERT INTO joints VALUES (1, 0, 99, NULL, NULL, NULL, 0.0123, NULL, NULL, 0.0123, 640.5, 300.25, "
                "0.75, NULL, 'not_detected');")


def test_v2_database_migrates_every_row_within_rounding(tmp_path):
    db = _v2_db(tmp_path / "v2.sqlite", NOT_DETECTED)
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
        assert c.execute("SELECT type FROM sqlite_master WHERE name = 'joints'").fetchone() == ("table",)
        cols, before = _snapshot(c)
        reasons = {r[0] for r in c.execute("SELECT DISTINCT invalid_reason FROM joints")}
        traj_before = c.execute("SELECT session_uid, frame_index, t_ns, joint_name, invalid_reason FROM trajectory "
                                "ORDER BY session_uid, frame_index, joint").fetchall()
    assert {None, "low_score", "epipolar_error", "depth_out_of_range", "not_detected"} <= reasons
    assert len(before["joints"]) == (12 + 6) * 17 + 1

    assert _open_and_close(db)[:1] == ["joints stored compact: joint_samples and the view joints"]

    with sqlite3.connect(f"{db}.v2.bak") as b:  # the backup: the v2 file as it was
        assert b.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert _snapshot(b)[1] == before

    with sqlite3.connect(db) as c:
        assert c.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)
        assert dict(c.execute("SELECT name, type FROM sqlite_master WHERE name IN ('joints', 'joint_samples')")) == \
            {"joints": "view", "joint_samples": "table"}
        cols_after, _ = _snapshot(c)
        # the same SELECT works, column for column (later versions append columns: sessions.engine_* in 5)
        assert {t: cs[:len(cols[t])] for t, cs in cols_after.items()} == cols
        _, after = _snapshot(c, cols)
        n = assert_joints_within_rounding(before["joints"], after["joints"], cols["joints"])
        assert n > 10 * len(before["joints"])
        assert len(after["joints"]) == len(before["joints"])
        for t in ("joint_names", "calibrations", "sessions", "frames", "ground_truth"):
            assert after[t] == before[t], t
        assert set(before["events"]) < set(after["events"])
        detail = c.execute("SELECT detail FROM events WHERE kind = 'schema_migrated' ORDER BY id").fetchone()[0]
        assert "2 -> 3: joints stored compact" in detail
        nd = c.execute("SELECT x_mm, left_u, left_v, left_score, right_u, confidence, epipolar_px, invalid_reason "
                       "FROM joints WHERE joint = 99").fetchone()
        assert nd == (None, None, None, 0.0123, 640.5, 0.0123, None, "not_detected")
        assert c.execute("SELECT session_uid, frame_index, t_ns, joint_name, invalid_reason FROM trajectory "
                         "ORDER BY session_uid, frame_index, joint").fetchall() == traj_before
        migrated = _structure(c)

    fresh = tmp_path / "fresh.sqlite"
    _open_and_close(fresh)
    with sqlite3.connect(fresh) as c:
        assert _structure(c) == migrated

    uid = after["sessions"][0][1]
    with sqlite3.connect(dump_session(db, uid, tmp_path / "d.sqlite").path) as d:
        assert d.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert d.execute("SELECT COUNT(*) FROM joints").fetchone() == (12 * 17 + 1,)
        doc = {(t, c) for t, c, _, _ in d.execute("SELECT * FROM data_dictionary")}
        assert {("joint_samples", "x_10um"), ("joints", "x_mm"), ("trajectory", "x_mm")} <= doc


def test_reason_without_a_code_stops_the_migration(tmp_path):
    db = _v2_db(tmp_path / "u.sqlite", "UPDATE joints SET invalid_reason = 'cosmic_ray' "
                                       "WHERE session_id = 1 AND frame_index = 0 AND joint = 0;")
    with pytest.raises(SchemaError, match="cosmic_ray"):
        _open_and_close(db)
    with sqlite3.connect(db) as c:  # rolled back: still version 2, joints still the table
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
        assert c.execute("SELECT type FROM sqlite_master WHERE name = 'joints'").fetchone() == ("table",)
        assert c.execute("SELECT COUNT(*) FROM sqlite_master WHERE name = 'joint_samples'").fetchone() == (0,)


def test_the_migration_writes_the_current_layout():
    """The migration's frozen SQL equals today's schema (a later version must add its own migration)."""
    assert migrations._V3_REASONS == schema.INVALID_REASON_CODES
    assert migrations._V3_JOINT_SAMPLES.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS") + ";" == \
        schema.TABLE_BY_NAME["joint_samples"].ddl()
    assert migrations._V3_JOINTS_VIEW.replace("CREATE VIEW", "CREATE VIEW IF NOT EXISTS") + ";" == schema.JOINTS_VIEW.ddl()
    assert migrations._V3_TRAJECTORY_VIEW.replace("CREATE VIEW", "CREATE VIEW IF NOT EXISTS") + ";" == schema.TRAJECTORY_VIEW
