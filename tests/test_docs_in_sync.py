"""docs/ generated from the code's single sources of truth must stay equal to them."""
from __future__ import annotations

from appliance import config
from appliance.store import schema
from tests.helpers import REPO, agma


def test_config_reference_is_current():
    assert (REPO / "docs" / "config.md").read_text(encoding="utf-8") == config.docs_markdown(), "run: agma config docs > docs/config.md"


def test_database_reference_is_current():
    assert (REPO / "docs" / "database.md").read_text(encoding="utf-8") == schema.docs_markdown(), "run: agma db docs > docs/database.md"


def test_every_config_key_documented():
    for key in config.KEYS:
        assert key.doc and key.doc.endswith("."), key.path


def test_every_column_documented_and_in_the_ddl(tmp_path):
    import sqlite3

    conn = sqlite3.connect(tmp_path / "d.sqlite")
    schema.create_schema(conn)
    for t in schema.TABLES:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t.name})")]
        assert cols == [c.name for c in t.columns]
        assert all(c.meaning for c in t.columns)


def test_cli_prints_the_same_docs():
    assert agma("config", "docs").stdout == config.docs_markdown()
