"""A dump is a standalone SQLite file holding exactly one session, row for row as the box stored it.

Researchers get one file per session; if a dump leaked another session's rows, or lost some of its
own, analyses would be silently wrong. The database itself is the reference here.
"""
from __future__ import annotations

import sqlite3

import pytest

from appliance.store.dump import dump_session
from tests.store.recorded import record, session_rows


@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dump")
    db = tmp / "box.sqlite"
    a = record(db, seed=1, n_frames=60, bed_label="bed 1")
    b = record(db, seed=2, n_frames=45, skip=(7, 8, 20), bed_label="bed 2")  # the one dumped
    c = record(db, seed=3, n_frames=30)
    result = dump_session(db, b["session_id"], tmp / "b.sqlite")
    conn = sqlite3.connect(result.path)
    yield db, (a, b, c), result, conn
    conn.close()


def test_integrity_check_passes(dumped):
    conn = dumped[3]
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_exactly_one_session(dumped):
    _, (_, b, _), result, conn = dumped
    assert conn.execute("SELECT uid, bed_label, end_reason FROM sessions").fetchall() == [(b["session_id"], "bed 2", "duration")]
    assert result.frames == b["frames"] == 42
    for table in ("frames", "joints", "ground_truth", "events"):
        assert conn.execute(f"SELECT COUNT(DISTINCT session_id) FROM {table}").fetchone()[0] == 1, table


@pytest.mark.parametrize("table,order", [("frames", "frame_index"), ("joints", "frame_index, joint"),
                                         ("ground_truth", "frame_index, joint"), ("events", "id")])
def test_rows_equal_to_the_database(dumped, table, order):
    db, (_, b, _), _, conn = dumped
    expected = session_rows(db, b["session_id"], table, order)
    assert expected, table
    assert conn.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall() == expected


def test_session_and_calibration_rows_and_fixed_tables(dumped):
    db, (_, b, _), _, conn = dumped
    src = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT * FROM sessions").fetchall() == src.execute(
            "SELECT * FROM sessions WHERE uid = ?", (b["session_id"],)).fetchall()
        assert conn.execute("SELECT * FROM calibrations").fetchall() == src.execute(
            "SELECT c.* FROM calibrations c JOIN sessions s ON s.calibration_id = c.id WHERE s.uid = ?",
            (b["session_id"],)).fetchall()
        assert conn.execute("SELECT * FROM joint_names ORDER BY joint").fetchall() == src.execute(
            "SELECT * FROM joint_names ORDER BY joint").fetchall()
        src_meta = dict(src.execute("SELECT key, value FROM meta").fetchall())
    finally:
        src.close()
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    assert meta["schema_version"] == src_meta["schema_version"]
    assert meta["dump_session_uid"] == b["session_id"]


def test_trajectory_view_and_plain_file(dumped):
    """The researcher's one plain SELECT works in the dump, and the dump is one file (no WAL to carry)."""
    _, (_, b, _), _, conn = dumped
    rows = conn.execute("SELECT frame_index, x_mm FROM trajectory WHERE session_uid = ? AND joint_name = 'left_wrist' "
                        "ORDER BY frame_index", (b["session_id"],)).fetchall()
    assert [r[0] for r in rows] == [i for i in range(45) if i not in (7, 8, 20)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
