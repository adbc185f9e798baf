""""Days left at this rate": the recording rate of the last 7 days and the days until the disk's reserve.

Why: `agma status`, the MQTT status and `agma doctor` warn a box's owner weeks before it refuses
every start. "At this rate" means: the frames stored over the last 7 days of wall time (a session
counted by the part of its span inside the window, the open one up to now) times the database's own
bytes per stored frame, per day (over the database's age when it is younger than the window, at
least one day), twice that while the pending dumps share the disk. The figures are checked against
sums written out by hand for sessions at known times, and the bytes per frame against the file's
real growth.
"""
from __future__ import annotations

import math
import sqlite3
import time

import pytest

from appliance.store import retention
from appliance.store.diskguard import MB
from appliance.store.writer import StoreWriter
from tests.store.retention_db import DAY_NS, add_session

HOUR_NS = 3600 * 10**9


def test_days_left_arithmetic():
    assert retention.days_left(10e9, 1e9, reserve_bytes=2e9) == 8.0
    assert retention.days_left(10e9, 4e9) == 2.5
    assert retention.days_left(1e9, 1e9, reserve_bytes=2e9) == 0.0  # already below the reserve
    for no_rate in (None, 0.0, float("nan"), float("inf"), -5.0):
        assert retention.days_left(10e9, no_rate) is None
    assert retention.days_left(float("nan"), 1e9) is None


def test_rate_counts_the_window_share_of_each_session(tmp_path):
    db = tmp_path / "rate.sqlite"
    empty = tmp_path / "empty.sqlite"
    for path in (db, empty):
        w = StoreWriter(path)
        w.start()
        if path == db:
            now = time.time_ns()
            add_session(w, now - 10 * DAY_NS, now - 9 * DAY_NS, 1000, seed=1)      # before the window: 0
            add_session(w, now - 8 * DAY_NS, now - 6 * DAY_NS, 2000, seed=2)       # half inside: 1000
            add_session(w, now - 2 * DAY_NS, now - 2 * DAY_NS + HOUR_NS, 300, seed=3)  # inside: 300
            add_session(w, now - HOUR_NS, None, 120, seed=4)                       # open, up to now: 120
        w.stop()
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert retention.recorded_frames_in_window(conn, now) == pytest.approx(1420, abs=0.5)
        per_frame = retention.bytes_per_stored_frame(conn)
        # the file's real growth per frame (the empty schema's file subtracted), within 10 %
        e = sqlite3.connect(empty)
        e.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        e.close()
        growth = (db.stat().st_size - empty.stat().st_size) / 3420
        assert 0.9 * growth <= per_frame <= 1.1 * growth
        assert 500 < per_frame < 2500  # compact rows without ground truth: ~900 B (diskguard: 862 B for a camera)
        rate = retention.recorded_bytes_per_day(conn, now)
        assert rate == pytest.approx(1420 * per_frame / 7, rel=1e-3)
        assert retention.recorded_bytes_per_day(conn, now, stored_copies=2) == pytest.approx(2 * rate)
        # eight days on, only the open session's part (now still open: up to then) is inside the window
        later = now + 8 * DAY_NS
        assert retention.recorded_frames_in_window(conn, later) == pytest.approx(120 * (7 * DAY_NS) / (8 * DAY_NS + HOUR_NS),
                                                                                 rel=1e-6)
        assert retention.recorded_bytes_per_day(conn, now - 20 * DAY_NS) is None  # nothing recorded yet then
    finally:
        conn.close()


def test_a_young_database_divides_by_its_age_at_least_one_day(tmp_path):
    db = tmp_path / "young.sqlite"
    w = StoreWriter(db)
    w.start()
    now = time.time_ns()
    add_session(w, now - 2 * DAY_NS, now - 2 * DAY_NS + HOUR_NS, 600, seed=1)
    w.stop()
    conn = sqlite3.connect(db)
    try:
        per_frame = retention.bytes_per_stored_frame(conn)
        assert retention.recorded_bytes_per_day(conn, now) == pytest.approx(600 * per_frame / 2, rel=1e-3)
        # one hour after the first session began: one day, not 1/24 of one
        soon = now - 2 * DAY_NS + HOUR_NS
        assert retention.recorded_bytes_per_day(conn, soon) == pytest.approx(600 * per_frame / 1, rel=1e-3)
    finally:
        conn.close()


def test_disk_outlook_from_a_database_path(tmp_path):
    db = tmp_path / "outlook.sqlite"
    w = StoreWriter(db)
    w.start()
    now = time.time_ns()
    add_session(w, now - 3 * DAY_NS, now - 3 * DAY_NS + HOUR_NS, 900, seed=1)
    w.stop()
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    out = retention.disk_outlook(db, now, min_free_mb=256.0, dump_dir=dumps)
    conn = sqlite3.connect(db)
    try:
        expected_rate = 2 * retention.recorded_bytes_per_day(conn, now)  # the dumps share the disk
    finally:
        conn.close()
    assert out.stored_copies == 2 and out.bytes_per_day == pytest.approx(expected_rate)
    assert out.days_left == pytest.approx((out.free_bytes - 256 * MB) / expected_rate)
    assert "days left at this rate" in out.text()
    assert retention.disk_outlook(db, now, dump_dir=None).stored_copies == 1
    none_yet = retention.disk_outlook(db, now - 10 * DAY_NS)
    assert none_yet.bytes_per_day is None and none_yet.days_left is None and "no rate" in none_yet.text()
    assert math.isfinite(out.free_bytes)
