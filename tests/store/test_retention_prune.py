"""Retention: a pulled old session is pruned with every row; an unpulled one never is, the open one never is.

Why: at ~93 MB per recorded hour a busy box fills its eMMC in weeks and then refuses every start,
but a session is research data that may exist nowhere else until IT has pulled its dump. So the
daemon deletes a session only when (1) it has ended, (2) more than store.keep_days ago, and (3)
its dump was pulled: acknowledged (`agma dump --ack`) or its pending dump removed from
store.dump_dir by the puller (rsync --remove-source-files). Everything else stays, row for row.
Real writer, real SQLite, real files; the sessions are written at the times a box would have
written them 40 days ago (store/sessions.py takes the times), and the day of the run is given.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from appliance.errors import AgmaError
from appliance.store import retention
from appliance.store.dump import read_sha256_sidecar, sha256_sidecar, write_pending_dump
from appliance.store.writer import StoreWriter
from tests.store.retention_db import DAY_NS, add_session, counts

HOUR_NS = 3600 * 10**9
KEEP = 30


@pytest.fixture
def box(tmp_path):
    w = StoreWriter(tmp_path / "box.sqlite")
    w.start()
    yield w, tmp_path / "box.sqlite", tmp_path / "dumps"
    w.stop()


def _dump_written(w: StoreWriter, db: Path, uid: str, dumps: Path) -> Path:
    """As the daemon's dumper does: the pending dump, then its record."""
    path = write_pending_dump(db, uid, dumps)
    w.call(lambda c: retention.record_dump_written(c, uid, path, read_sha256_sidecar(path)))
    return path


def _run(w: StoreWriter, db: Path, now_ns: int, dumps: Path | None, keep_days: int = KEEP) -> retention.Maintenance:
    return w.maintain(lambda c: retention.maintain(c, db, now_ns, keep_days, dumps, 0)).result(timeout=120)


def _rows(db: Path, session_id: int) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} WHERE session_id = ? ORDER BY 1, 2, 3", (session_id,)).fetchall()
                for t in ("frames", "joint_samples", "events")} | \
            {"sessions": conn.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchall()}
    finally:
        conn.close()


def test_pulled_old_sessions_pruned_unpulled_and_open_kept(box):
    w, db, dumps = box
    now = time.time_ns()
    old = now - 40 * DAY_NS
    acked = add_session(w, old, old + HOUR_NS, 240, seed=1)
    unpulled = add_session(w, old + 2 * HOUR_NS, old + 3 * HOUR_NS, 200, seed=2)  # its pending dump still there
    removed = add_session(w, old + 4 * HOUR_NS, old + 5 * HOUR_NS, 220, seed=3)  # the puller removed its dump
    never = add_session(w, old + 6 * HOUR_NS, old + 7 * HOUR_NS, 180, seed=4)  # no dump, no ack
    young = add_session(w, now - 10 * DAY_NS, now - 10 * DAY_NS + HOUR_NS, 150, seed=5)  # acked, 10 days old
    open_ = add_session(w, old + 8 * HOUR_NS, None, 160, seed=6)  # still open, 40 days on

    assert w.call(lambda c: retention.acknowledge(c, acked[1], db)).pulled_by == "ack"
    assert not w.call(lambda c: retention.acknowledge(c, young[1], db)).already
    with pytest.raises(AgmaError, match="still open"):
        w.call(lambda c: retention.acknowledge(c, open_[1], db))
    with pytest.raises(AgmaError, match="no session"):
        w.call(lambda c: retention.acknowledge(c, "retbox-nope", db))
    kept_dump = _dump_written(w, db, unpulled[1], dumps)
    gone = _dump_written(w, db, removed[1], dumps)
    gone.unlink()  # rsync --remove-source-files: the file, then its .sha256
    sha256_sidecar(gone).unlink()
    # the open session even with a pulled record (the box never writes one): still never pruned
    w.call(lambda c: c.execute("INSERT INTO session_dumps(session_id, pulled_at_ns, pulled_by) VALUES (?, ?, 'ack')",
                               (open_[0], now)))
    kept = {s: _rows(db, s[0]) for s in (unpulled, never, young, open_)}
    assert all(counts(db, s[0])["frames"] == n for s, n in ((acked, 240), (removed, 220)))
    size_before = db.stat().st_size + Path(f"{db}-wal").stat().st_size

    out = _run(w, db, now, dumps)

    assert out.pulled == (removed[1],) and out.found == () and not out.interrupted
    assert out.pruned == (removed[1], acked[1])  # newest first
    for s in (acked, removed):
        assert counts(db, s[0]) == dict.fromkeys(counts(db, s[0]), 0), s  # every row, every table
    for s, rows in kept.items():
        assert _rows(db, s[0]) == rows, s  # row for row
    assert kept_dump.is_file() and read_sha256_sidecar(kept_dump)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        pruned = conn.execute("SELECT session_id, detail FROM events WHERE kind = 'session_pruned' ORDER BY id").fetchall()
        assert [(sid, d.split(":")[0]) for sid, d in pruned] == [(None, removed[1]), (None, acked[1])]
        assert "220 frames" in pruned[0][1] and "(removed)" in pruned[0][1] and "(ack)" in pruned[1][1]
        assert conn.execute("SELECT pulled_by FROM session_dumps WHERE session_id = ?", (unpulled[0],)).fetchone() == \
            (None,)
        # 460 of 1150 frames gone (40 %): VACUUM gave their pages back
        assert out.vacuum.done and conn.execute("PRAGMA freelist_count").fetchone() == (0,)
    finally:
        conn.close()
    assert out.vacuum.bytes_after < out.vacuum.bytes_before and db.stat().st_size < size_before

    # 21 days later the young one has ended 31 days ago: it goes; the others still stay
    later = _run(w, db, now + 21 * DAY_NS, dumps)
    assert later.pruned == (young[1],)
    for s in (unpulled, never, open_):
        assert _rows(db, s[0]) == kept[s], s


def test_keep_days_is_counted_from_the_end(box):
    """Ended keep_days ago less a second: kept; a second more: pruned. keep_days 0 keeps everything."""
    w, db, _ = box
    t0 = time.time_ns() - 100 * DAY_NS
    sid, uid = add_session(w, t0, t0 + HOUR_NS, 30)
    w.call(lambda c: retention.acknowledge(c, uid, db))
    end = t0 + HOUR_NS
    conn = sqlite3.connect(db)
    try:
        assert retention.prunable(conn, end + KEEP * DAY_NS - 10**9, KEEP) == []
        assert [c.uid for c in retention.prunable(conn, end + KEEP * DAY_NS + 10**9, KEEP)] == [uid]
        assert retention.prunable(conn, end + 10_000 * DAY_NS, 0) == []
    finally:
        conn.close()
    assert _run(w, db, end + 10_000 * DAY_NS, None, keep_days=0) == retention.Maintenance()
    assert counts(db, sid)["frames"] == 30


def test_a_continued_session_goes_with_its_continuation(box):
    """An interrupted session a kept one continues stays (sessions.continues_session points to it)."""
    w, db, _ = box
    old = time.time_ns() - 60 * DAY_NS
    first = add_session(w, old, old + HOUR_NS, 40, seed=1)
    cont = add_session(w, old + HOUR_NS + 10**9, old + 2 * HOUR_NS, 40, seed=2, continues=first[0])
    w.call(lambda c: retention.acknowledge(c, first[1], db))
    now = time.time_ns()
    assert _run(w, db, now, None).pruned == ()
    assert counts(db, first[0])["frames"] == 40
    w.call(lambda c: retention.acknowledge(c, cont[1], db))
    assert _run(w, db, now, None).pruned == (cont[1], first[1])  # the continuation first: the foreign key holds
    assert counts(db, first[0])["sessions"] == counts(db, cont[0])["sessions"] == 0


def test_a_dump_found_in_the_folder_then_removed_counts_as_pulled(box):
    """A pending dump the box has no record of (an older agma wrote it, or `agma dump --new -o` into
    the folder) is recorded when found; its later removal counts as pulled. A missing folder (an
    unmounted disk) proves nothing."""
    w, db, dumps = box
    old = time.time_ns() - 40 * DAY_NS
    a = add_session(w, old, old + HOUR_NS, 30, seed=1)
    b = add_session(w, old + 2 * HOUR_NS, old + 3 * HOUR_NS, 30, seed=2)
    pa = write_pending_dump(db, a[1], dumps)  # no record: as schema version 5 left them
    now = time.time_ns()
    first = _run(w, db, now, dumps)
    assert first.found == (a[1],) and first.pulled == () and first.pruned == ()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT path, sha256, written_at_ns, pulled_at_ns FROM session_dumps").fetchall() == \
            [(str(pa.absolute()), read_sha256_sidecar(pa), now, None)]
    finally:
        conn.close()
    pa.unlink()
    second = _run(w, db, now + 1, dumps)
    assert second.pulled == (a[1],) and second.pruned == (a[1],)
    assert not sha256_sidecar(pa).exists()  # what the puller left is removed with the session

    pb = _dump_written(w, db, b[1], dumps)
    other = dumps.with_name("dumps-unmounted")
    dumps.rename(other)  # the whole folder gone: not a pull
    assert _run(w, db, now + 2, dumps).pruned == ()
    other.rename(dumps)
    assert pb.is_file() and counts(db, b[0])["frames"] == 30


def test_an_acknowledged_pending_dump_leaves_with_its_session(box):
    """Acknowledged but left in store.dump_dir: the box's copy is removed when the session is."""
    w, db, dumps = box
    old = time.time_ns() - 40 * DAY_NS
    _, uid = add_session(w, old, old + HOUR_NS, 30)
    path = _dump_written(w, db, uid, dumps)
    w.call(lambda c: retention.acknowledge(c, uid, db))
    assert _run(w, db, time.time_ns(), dumps).pruned == (uid,)
    assert not path.exists() and not sha256_sidecar(path).exists()
    assert sorted(p.name for p in dumps.iterdir()) == []


def test_vacuum_is_skipped_without_room(box):
    """VACUUM needs about the compact size free (twice when SQLite's temporary folder shares the
    disk): short of it, it is skipped with its figures and the free pages stay for reuse."""
    w, db, _ = box
    old = time.time_ns() - 40 * DAY_NS
    a = add_session(w, old, old + HOUR_NS, 300, seed=1)
    add_session(w, old + 2 * HOUR_NS, old + 3 * HOUR_NS, 100, seed=2)
    w.call(lambda c: retention.acknowledge(c, a[1], db))
    from appliance.store.diskguard import free_bytes

    reserve = free_bytes(db) + 10**9  # more than the disk has: no room whatever the file's size
    out = w.maintain(lambda c: retention.maintain(c, db, time.time_ns(), KEEP, None, reserve)).result(timeout=120)
    assert out.pruned == (a[1],) and out.vacuum is not None and not out.vacuum.done
    assert out.vacuum.text.startswith("VACUUM skipped:") and "MB needed" in out.vacuum.text
    conn = sqlite3.connect(db)
    try:
        free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    finally:
        conn.close()
    assert free_pages >= retention.VACUUM_MIN_FREE_SHARE * pages  # the pages stay free in the file, for reuse
