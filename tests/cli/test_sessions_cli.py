"""`agma sessions`: the listing a researcher or IT reads first, and its --json for scripts."""
from __future__ import annotations

from tests.helpers import agma, last_json
from tests.store.recorded import record


def test_sessions_json_and_table(tmp_path):
    db = tmp_path / "box.sqlite"
    a = record(db, seed=1, n_frames=30, bed_label="bed 4")
    b = record(db, seed=2, n_frames=15)
    proc = agma("sessions", "--db", str(db), "--json", check=True)
    rows = last_json(proc)
    assert isinstance(rows, list) and [r["session_id"] for r in rows] == [a["session_id"], b["session_id"]]
    assert [(r["frames"], r["end_reason"]) for r in rows] == [(30, "duration"), (15, "duration")]
    assert rows[0]["bed_label"] == "bed 4" and rows[0]["model"] == "simulated"
    assert abs(rows[0]["valid_joint_ratio"] - a["valid_joint_ratio"]) < 1e-12
    assert {"started_at_utc", "duration_s"} <= rows[0].keys()

    table = agma("sessions", "--db", str(db), check=True).stdout
    assert a["session_id"] in table and "bed 4" in table and "simulated" in table


def test_sessions_db_from_config(tmp_path):
    """Without --db the configuration's store.db is listed (the box's own database)."""
    db = tmp_path / "box.sqlite"
    s = record(db, n_frames=15)
    rows = last_json(agma("sessions", "--json", env={"AGMA_STORE__DB": str(db)}, check=True))
    assert [r["session_id"] for r in rows] == [s["session_id"]]


def test_missing_database_is_one_line_exit_1(tmp_path):
    proc = agma("sessions", "--db", str(tmp_path / "nope.sqlite"))
    assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0 and "no database" in proc.stderr
    assert not (tmp_path / "nope.sqlite").exists()  # a reader never creates a database
