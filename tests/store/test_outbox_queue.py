"""The MQTT outbox queues exactly the events committed while MQTT is configured, in order.

Why: events must survive a broker outage and a daemon restart (each is a row first, delivered on
PUBACK), but enabling MQTT must not flood the monitoring desk with history. So a writer opened with
queue_events=True queues every event it inserts (whoever raised it: a session opening and
closing, crash recovery at open), a writer without it queues none, a v3 file migrated to v4 starts
with an empty outbox, delivered ids leave the queue, and the read-only reader the MQTT sink uses
sees what the writer committed. Real SQLite files, the real writer thread.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.store import outbox, schema
from appliance.store import sessions as store_sessions
from appliance.store.writer import StoreWriter

V4_FIXTURE = Path(__file__).parent / "fixtures" / "schema_v4.sql"


def _writer(db, queue_events: bool) -> StoreWriter:
    w = StoreWriter(db, queue_events=queue_events)
    w.start()
    return w


def _add(w: StoreWriter, kind: str, detail: str) -> None:
    w.call(lambda conn: store_sessions.add_event(conn, None, kind, detail))


def test_events_are_queued_only_while_mqtt_is_configured(tmp_path):
    db = tmp_path / "box.sqlite"
    w = _writer(db, queue_events=False)
    _add(w, "disk_low", "before MQTT")
    w.stop()
    w = _writer(db, queue_events=True)
    _add(w, "disk_low", "first")
    _add(w, "error", "second")
    reader = outbox.OutboxReader(db)
    try:
        queued = reader.pending(0, 100)
        assert [(e.kind, e.detail) for e in queued] == [("disk_low", "first"), ("error", "second")]
        assert [e.id for e in queued] == sorted(e.id for e in queued)
        assert reader.pending(queued[0].id, 100) == queued[1:]
        assert reader.latest().detail == "second"
        assert w.call(lambda conn: outbox.mark_delivered(conn, [queued[0].id])) == 1
        assert [e.detail for e in reader.pending(0, 100)] == ["second"]
        assert reader.queued() == 1
    finally:
        reader.close()
        w.stop()


def test_an_unknown_event_kind_is_refused(tmp_path):
    """One vocabulary (appliance/events.py): a misspelt kind is a programming error, not a row."""
    w = _writer(tmp_path / "box.sqlite", queue_events=True)
    try:
        try:
            _add(w, "camera_lots", "typo")
        except ValueError as exc:
            assert "camera_lots" in str(exc)
        else:
            raise AssertionError("an unknown kind was stored")
        assert w.call(lambda conn: conn.execute("SELECT count(*) FROM events WHERE kind = 'camera_lots'").fetchone()) == (0,)
    finally:
        w.stop()


def test_v3_file_migrates_with_an_empty_outbox(tmp_path):
    """A v3 file is v4 without mqtt_outbox: its events count as delivered after the migration.

    The v4 file is tests/store/fixtures/schema_v4.sql (written by agma at version 4): a fresh file
    of today's schema has columns of later versions, which their migrations would add again."""
    db = tmp_path / "v3.sqlite"
    conn = sqlite3.connect(db)
    conn.executescript(V4_FIXTURE.read_text())
    with conn:
        conn.execute("DROP TABLE mqtt_outbox")
        conn.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
        for i in range(5):
            conn.execute("INSERT INTO events(session_id, t_ns, kind, detail) VALUES (NULL, ?, 'disk_low', 'old')", (i,))
    conn.close()
    w = _writer(db, queue_events=True)
    try:
        assert w.migrations[:1] == ["mqtt_outbox: events waiting for the broker"]
        assert w.call(lambda c: outbox.queued_count(c)) == 0
        _add(w, "error", "new")
        assert [e.detail for e in w.call(lambda c: outbox.pending(c))] == ["new"]
        version = w.call(lambda c: c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
        assert version == str(schema.SCHEMA_VERSION)
    finally:
        w.stop()
