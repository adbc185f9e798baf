"""A session that continues an interrupted one names it in its dump.

sessions.continues_session holds an id of the box's database; a dump holds one session, so that
id points at nothing inside it. The dump's meta says which session it continues, by uid.

Every database at the current schema has sessions.continues_session (since schema version 2;
older files are migrated on open). The test used to skip when the column was missing, which
would turn a regression into a silent skip; now its absence fails.
"""
from __future__ import annotations

import sqlite3

from appliance.store.dump import dump_session
from tests.store.recorded import record


def test_continuation_named_by_uid(tmp_path):
    db = tmp_path / "box.sqlite"
    first = record(db, seed=1, n_frames=15)["session_id"]
    second = record(db, seed=2, n_frames=15)["session_id"]
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(sessions)")]
    assert "continues_session" in columns, f"sessions has no continues_session column: {columns}"
    with conn:  # as recovery would have recorded it
        conn.execute("UPDATE sessions SET continues_session = (SELECT id FROM sessions WHERE uid = ?) WHERE uid = ?",
                     (first, second))
    first_id = conn.execute("SELECT id FROM sessions WHERE uid = ?", (first,)).fetchone()[0]
    conn.close()
    d = sqlite3.connect(dump_session(db, second, tmp_path / "d.sqlite").path)
    try:
        assert d.execute("SELECT uid, continues_session FROM sessions").fetchall() == [(second, first_id)]
        assert d.execute("SELECT value FROM meta WHERE key = 'dump_continues_session_uid'").fetchone() == (first,)
    finally:
        d.close()
    plain = sqlite3.connect(dump_session(db, first, tmp_path / "f.sqlite").path)
    try:
        assert plain.execute("SELECT COUNT(*) FROM meta WHERE key = 'dump_continues_session_uid'").fetchone() == (0,)
    finally:
        plain.close()
