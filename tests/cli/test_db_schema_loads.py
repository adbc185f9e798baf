"""`agma db schema` prints a schema that loads as is and gives the database a recorder creates.

Wave 1 printed the tables and the `trajectory` view but not the `joints` view it reads, so the
output failed in an empty database (`no such table: main.joints`). The command and
`create_schema` now share one list of statements; these tests load the command's output into an
empty database the way a researcher would (the sqlite3 CLI when installed, else Python's sqlite3)
and read every view.
"""
from __future__ import annotations

import shutil
import sqlite3
import subprocess

import pytest

from appliance.joints import JOINT_NAMES
from appliance.store import schema
from tests.helpers import agma, last_json


def _objects(conn) -> set[tuple[str, str]]:
    return set(conn.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


def _check_loaded(db) -> None:
    conn = sqlite3.connect(db)
    try:
        views = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name")]
        assert views == ["joints", "trajectory"]
        for v in views:  # reading a view resolves every table and view it names
            conn.execute(f"SELECT * FROM {v}").fetchall()
        # the fixed rows a fresh database gets are in the printed schema too
        assert conn.execute("SELECT joint, name FROM joint_names ORDER BY joint").fetchall() == list(enumerate(JOINT_NAMES))
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(schema.SCHEMA_VERSION),)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        loaded = _objects(conn)
    finally:
        conn.close()
    ref = sqlite3.connect(":memory:")
    schema.create_schema(ref)
    assert loaded == _objects(ref)  # the same tables, indexes and views as a recorder's database
    ref.close()


def test_schema_output_loads_with_python_sqlite3(tmp_path):
    sql = agma("db", "schema", check=True).stdout
    db = tmp_path / "new.db"
    conn = sqlite3.connect(db)
    conn.executescript(sql)
    conn.close()
    _check_loaded(db)


@pytest.mark.skipif(shutil.which("sqlite3") is None, reason="no sqlite3 command on this machine (the Python test covers the load)")
def test_schema_output_loads_with_the_sqlite3_cli(tmp_path):
    sql = agma("db", "schema", check=True).stdout
    db = tmp_path / "new.db"
    proc = subprocess.run(["sqlite3", "-bail", str(db)], input=sql, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    _check_loaded(db)


def test_schema_json_lists_the_same_statements(tmp_path):
    doc = last_json(agma("db", "schema", "--json", check=True))
    assert doc["schema_version"] == schema.SCHEMA_VERSION
    assert doc["statements"] == schema.schema_statements()
    conn = sqlite3.connect(tmp_path / "j.db")
    for statement in doc["statements"]:
        conn.execute(statement)
    conn.commit()
    conn.close()
    _check_loaded(tmp_path / "j.db")
