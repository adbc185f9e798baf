"""The MQTT outbox: events wait in the database until the broker has acknowledged them.

Every event is a row of ``events`` first. While MQTT is configured, the writer's connection
carries a TEMP trigger (``enable``) that adds each new event's id to ``mqtt_outbox`` in the same
transaction, so an event is queued exactly when it is committed, whoever raised it (the state
machine, a session opening or closing, crash recovery at start). The MQTT sink reads the queue
in id order on its own read connection (``pending``), publishes each with QoS 1 and, on PUBACK,
deletes its row through the writer (``mark_delivered``). A broker outage or a daemon restart
leaves the rows where they are: they go out, in order, when a broker is there again. Events
raised while MQTT is off are never queued, and the table starts empty when it is created by the
schema-4 migration, so enabling MQTT does not send history.

Pure SQL over a connection; the writer thread owns the writes (store/writer.py).
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

_TRIGGER = """CREATE TEMP TRIGGER IF NOT EXISTS agma_mqtt_outbox AFTER INSERT ON main.events
BEGIN
  INSERT OR IGNORE INTO mqtt_outbox(event_id, queued_at_ns) VALUES (NEW.id, NEW.t_ns);
END"""


@dataclass(frozen=True)
class QueuedEvent:
    """One event waiting for delivery: ``id`` is events.id (the event id consumers deduplicate by);
    ``session_uid`` None for a box-level event; ``t_ns`` ns since the Unix epoch."""

    id: int
    session_uid: str | None
    t_ns: int
    kind: str
    detail: str | None


def enable(conn: sqlite3.Connection) -> None:
    """Queue every event this connection inserts from now on (a TEMP trigger: this connection only)."""
    conn.execute(_TRIGGER)


def pending(conn: sqlite3.Connection, after_id: int = 0, limit: int = 100) -> list[QueuedEvent]:
    """The queued events with id > after_id, oldest first, at most ``limit``. Reads only."""
    rows = conn.execute(
        "SELECT e.id, s.uid, e.t_ns, e.kind, e.detail FROM mqtt_outbox AS o JOIN events AS e ON e.id = o.event_id "
        "LEFT JOIN sessions AS s ON s.id = e.session_id WHERE o.event_id > ? ORDER BY o.event_id LIMIT ?",
        (after_id, limit)).fetchall()
    return [QueuedEvent(*r) for r in rows]


def queued_count(conn: sqlite3.Connection) -> int:
    """How many events wait for the broker."""
    return conn.execute("SELECT count(*) FROM mqtt_outbox").fetchone()[0]


def mark_delivered(conn: sqlite3.Connection, event_ids) -> int:
    """Remove acknowledged events from the queue (inside the caller's transaction); -> rows removed."""
    ids = [int(i) for i in event_ids]
    removed = 0
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        removed += conn.execute(f"DELETE FROM mqtt_outbox WHERE event_id IN ({', '.join('?' * len(chunk))})",
                                chunk).rowcount
    return removed


def latest_event(conn: sqlite3.Connection) -> QueuedEvent | None:
    """The newest event row (the status payload's last_event), delivered or not; None when none."""
    row = conn.execute("SELECT e.id, s.uid, e.t_ns, e.kind, e.detail FROM events AS e "
                       "LEFT JOIN sessions AS s ON s.id = e.session_id ORDER BY e.id DESC LIMIT 1").fetchone()
    return QueuedEvent(*row) if row else None


class OutboxReader:
    """A read-only connection to the outbox for the MQTT sink's own thread (opened in that thread:
    a sqlite3 connection stays in the thread that made it). Raises sqlite3.Error as sqlite3 does."""

    def __init__(self, db_path) -> None:
        from pathlib import Path

        self._conn = sqlite3.connect(Path(db_path).resolve().as_uri() + "?mode=ro", uri=True, timeout=1.0)

    def pending(self, after_id: int, limit: int) -> list[QueuedEvent]:
        return pending(self._conn, after_id, limit)

    def latest(self) -> QueuedEvent | None:
        return latest_event(self._conn)

    def queued(self) -> int:
        return queued_count(self._conn)

    def close(self) -> None:
        self._conn.close()
