"""`--json` is honoured by the documentation commands too (docs/usage.md: every subcommand).

Wave 1's `config docs`, `db docs` and `db schema` printed their text with --json, so a script
parsing the last line of stdout got a Markdown fragment. Now each prints one JSON document.
"""
from __future__ import annotations

from appliance import config
from appliance.store import schema
from tests.helpers import agma, last_json


def test_config_docs_json():
    proc = agma("config", "docs", "--json", check=True)
    assert proc.stdout.count("\n") == 1 and last_json(proc) == {"markdown": config.docs_markdown()}


def test_db_docs_json():
    proc = agma("--json", "db", "docs", check=True)
    assert proc.stdout.count("\n") == 1 and last_json(proc) == {"markdown": schema.docs_markdown()}


def test_db_schema_json():
    proc = agma("db", "schema", "--json", check=True)
    doc = last_json(proc)
    assert proc.stdout.count("\n") == 1
    assert doc == {"schema_version": schema.SCHEMA_VERSION, "statements": schema.schema_statements()}
    assert all(s.rstrip().endswith(";") for s in doc["statements"])
