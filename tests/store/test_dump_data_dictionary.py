"""Every column a researcher finds in a dump is explained inside the dump (data_dictionary).

A dump travels without the code or docs/; its own data_dictionary(table_name, column_name, unit,
meaning) must cover every table and view column, with the same words as docs/database.md.
"""
from __future__ import annotations

import sqlite3

from appliance.store import schema
from appliance.store.dump import dump_session
from tests.store.recorded import record


def test_every_column_documented(tmp_path):
    db = tmp_path / "box.sqlite"
    s = record(db, n_frames=15)
    conn = sqlite3.connect(dump_session(db, s["session_id"], tmp_path / "d.sqlite").path)
    try:
        doc = {(t, c): (u, m) for t, c, u, m in conn.execute("SELECT * FROM data_dictionary")}
        objects = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        assert {"trajectory", "joints", "joint_samples", "data_dictionary"} <= set(objects)
        for name in objects:
            for col in (r[1] for r in conn.execute(f"PRAGMA table_info({name})")):
                assert (name, col) in doc, (name, col)
                assert doc[(name, col)][1] and not doc[(name, col)][1].startswith("Not documented"), (name, col)
    finally:
        conn.close()
    source = {(t, c): (u, m) for t, c, u, m in schema.data_dictionary_rows()}
    assert doc[("joints", "x_mm")] == source[("joints", "x_mm")] and doc[("joints", "x_mm")][0] == "mm"
    assert doc[("frames", "t_ns")][0] == "ns since Unix epoch"
    assert doc[("trajectory", "joint_name")][1].startswith("From joint_names.name")
    assert doc[("joint_samples", "x_10um")] == source[("joint_samples", "x_10um")] and doc[("joint_samples", "x_10um")][0] == "0.01 mm"
    assert doc[("trajectory", "confidence")][1].startswith("From joints.confidence: min(left_score, right_score)")
