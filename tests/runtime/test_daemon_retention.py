"""The daemon's retention: pulled old sessions pruned in an idle moment, dumps recorded, --ack over the socket.

Why: a box runs for months. A real `agma daemon` on a database that already holds 40-day-old
sessions (written by the real writer at those times) must, while idle, delete exactly the ones
whose dumps were pulled — acknowledged, or their pending dump removed by the puller — and keep the
unpulled one; each session it records gets its pending dump recorded, so the puller's removal will
count; `agma dump --ack` goes through the running daemon (the database's one writer) and refuses
the open session; `agma status` shows the days left at this rate.
"""
from __future__ import annotations

import sqlite3
import time

from appliance.store import retention
from appliance.store.dump import read_sha256_sidecar, sha256_sidecar, write_pending_dump
from appliance.store.writer import StoreWriter
from tests.helpers import wait_until
from tests.runtime.daemon_env import ctl, daemon_env, running_daemon, status, stop_daemon
from tests.store.retention_db import DAY_NS, add_session, counts

HOUR_NS = 3600 * 10**9


def _pruned(db) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return [d.split(":")[0] for (d,) in conn.execute(
            "SELECT detail FROM events WHERE kind = 'session_pruned' ORDER BY id")]
    finally:
        conn.close()


def test_daemon_prunes_pulled_sessions_and_acks_through_the_socket(tmp_path):
    db, dumps = tmp_path / "box.sqlite", tmp_path / "dumps"
    w = StoreWriter(db)
    w.start()
    old = time.time_ns() - 40 * DAY_NS
    acked = add_session(w, old, old + HOUR_NS, 200, seed=1)
    removed = add_session(w, old + 2 * HOUR_NS, old + 3 * HOUR_NS, 200, seed=2)
    unpulled = add_session(w, old + 4 * HOUR_NS, old + 5 * HOUR_NS, 200, seed=3)
    recent = add_session(w, time.time_ns() - 2 * DAY_NS, time.time_ns() - 2 * DAY_NS + HOUR_NS, 300, seed=4)
    w.call(lambda c: retention.acknowledge(c, acked[1], db))
    for s in (removed, unpulled):
        path = write_pending_dump(db, s[1], dumps)
        w.call(lambda c, s=s, path=path: retention.record_dump_written(c, s[1], path, read_sha256_sidecar(path)))
    w.stop()
    (dumps / f"{removed[1]}.sqlite").unlink()  # the puller took it

    env = daemon_env(tmp_path, AGMA_STORE__DUMP_DIR=str(dumps))
    with running_daemon(env) as proc:
        wait_until(lambda: len(_pruned(db)) == 2, "the two pulled sessions pruned", proc=proc)
        assert _pruned(db) == [removed[1], acked[1]]
        for s in (acked, removed):
            assert counts(db, s[0])["sessions"] == counts(db, s[0])["frames"] == 0
        for s in (unpulled, recent):
            assert counts(db, s[0])["frames"] in (200, 300)
        assert (dumps / f"{unpulled[1]}.sqlite").is_file()
        assert not sha256_sidecar(dumps / f"{removed[1]}.sqlite").exists()
        st = status(env)  # the recent session: a rate, hence a number of days
        assert isinstance(st["days_left"], float) and st["days_left"] > 0

        code, started = ctl(env, "start")
        assert code == 0, started
        uid = started["session_id"]
        code, refused = ctl(env, "dump", "--ack", uid)
        assert code == 1 and refused["via"] == "daemon" and "still open" in refused["acks"][0]["error"]
        code, stopped = ctl(env, "stop")
        assert code == 0, stopped
        path = dumps / f"{uid}.sqlite"
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            row = wait_until(lambda: conn.execute(
                "SELECT d.path, d.sha256, d.pulled_at_ns FROM session_dumps AS d JOIN sessions AS s "
                "ON s.id = d.session_id WHERE s.uid = ?", (uid,)).fetchone(), "the dump recorded", proc=proc)
        finally:
            conn.close()
        assert row == (str(path.absolute()), read_sha256_sidecar(path), None)

        code, ack = ctl(env, "dump", "--ack", uid, unpulled[1])
        assert code == 0 and ack["via"] == "daemon", ack
        assert [(a["session_id"], a["ok"], a["already"], a["pulled_by"]) for a in ack["acks"]] == \
            [(uid, True, False, "ack"), (unpulled[1], True, False, "ack")]
        assert ack["acks"][1]["delete_after_ns"] == ack["acks"][1]["ended_at_ns"] + 30 * DAY_NS
        assert stop_daemon(proc) == 0
    # no daemon now: the same command writes under the write lock itself; the first time is kept
    code, again = ctl(env, "dump", "--ack", uid)
    assert code == 0 and again["via"] == "database" and again["acks"][0]["already"] is True
    assert again["acks"][0]["pulled_at_ns"] == ack["acks"][0]["pulled_at_ns"]
