"""The writer's housekeeping yields to everything else and is no stall.

Why: retention's prune and VACUUM run in the store writer's thread (the one connection that
writes), in the daemon's idle moments; a VACUUM of a months-old database can take minutes on eMMC.
A nurse's start must never wait for it, nor the supervisor take it for a hung writer. So a
``maintain`` job is interrupted (rolled back) by whatever is queued next, and SQLite's progress
handler stamps the writer's heartbeat while it runs. The job here is a real statement that would
run for hours (a recursive count to 10^12), so only the interruption can end it.
"""
from __future__ import annotations

import sqlite3

import pytest

from appliance.store.writer import StoreWriter, StoreWriterError
from tests.helpers import DEADLINE_S, wait_until

ENDLESS = ("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000000) "
           "SELECT count(*) FROM n")


def test_a_call_interrupts_housekeeping_rolled_back(tmp_path):
    w = StoreWriter(tmp_path / "m.sqlite")
    w.start()
    try:
        started = []

        def job(conn):
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO meta(key, value) VALUES ('housekeeping', 'half done')")
            started.append(w.heartbeat)
            return conn.execute(ENDLESS).fetchone()

        fut = w.maintain(job)
        wait_until(lambda: started, "the job running")
        beat = started[0]
        wait_until(lambda: w.heartbeat > beat, "the heartbeat stamped inside the statement")
        assert not fut.done()
        # anything queued for the writer interrupts it and is served
        assert w.call(lambda c: c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()) == ("6",)
        with pytest.raises(sqlite3.OperationalError, match="interrupt"):
            fut.result(timeout=DEADLINE_S)
        assert w.error is None
        assert w.call(lambda c: c.execute("SELECT COUNT(*) FROM meta WHERE key = 'housekeeping'").fetchone()) == (0,)
        assert w.maintain(lambda c: c.execute("SELECT 41 + 1").fetchone()).result(timeout=DEADLINE_S) == (42,)
    finally:
        w.stop()


def test_stop_interrupts_housekeeping(tmp_path):
    w = StoreWriter(tmp_path / "s.sqlite")
    w.start()
    started = []
    fut = w.maintain(lambda conn: (started.append(1), conn.execute(ENDLESS).fetchone()))
    wait_until(lambda: started, "the job running")
    assert w.stop(timeout_s=DEADLINE_S)
    with pytest.raises(sqlite3.OperationalError, match="interrupt"):
        fut.result(timeout=DEADLINE_S)
    with pytest.raises(StoreWriterError, match="not running"):
        w.maintain(lambda conn: None)
