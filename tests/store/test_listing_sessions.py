"""The sessions listing: what a researcher sees before pulling (uid, bed, start, duration, frames,
valid-joint ratio, end reason, model), every figure from committed rows."""
from __future__ import annotations

import sqlite3

from appliance.store.listing import format_table, list_sessions, open_readonly
from tests.store.recorded import record


def test_listing(tmp_path):
    db = tmp_path / "box.sqlite"
    a = record(db, seed=1, n_frames=30, bed_label="bed 1")
    b = record(db, seed=2, n_frames=45, skip=(3, 4), bed_label="bed 2")
    conn = open_readonly(db)
    try:
        rows = list_sessions(conn)
    finally:
        conn.close()
    assert [r["session_id"] for r in rows] == [a["session_id"], b["session_id"]]
    ra, rb = rows
    assert (rb["bed_label"], rb["frames"], rb["end_reason"], rb["model"]) == ("bed 2", 43, "duration", "simulated")
    src = sqlite3.connect(db)
    try:
        valid, start, end = src.execute(
            "SELECT (SELECT SUM(valid_joints) FROM frames WHERE session_id = s.id), started_at_ns, ended_at_ns "
            "FROM sessions s WHERE uid = ?", (b["session_id"],)).fetchone()
    finally:
        src.close()
    assert rb["valid_joint_ratio"] == valid / (17 * 43) == b["valid_joint_ratio"]
    assert rb["duration_s"] == (end - start) / 1e9
    assert abs(rb["recorded_s"] - 45 / 30) < 1e-6  # frames 0..44 (two missing inside) at 30 fps
    assert rb["started_at_utc"].endswith("Z") and len(rb["started_at_utc"]) == 20
    table = format_table(rows)
    assert a["session_id"] in table and "bed 2" in table and "duration" in table
