"""`agma dump --new` says which open sessions it left out, instead of skipping them silently.

A session still being recorded (or left open by a crash until the next recorder recovers it) has
no final dump yet; wave 1's `dump --new` passed over it without a word, so whoever emptied the box
onto a USB stick could believe they had everything.
"""
from __future__ import annotations

import sqlite3
import time

from tests.helpers import agma, last_json
from tests.store.recorded import live_recording, record


def test_open_session_is_named_on_stderr_and_in_json(tmp_path):
    db = tmp_path / "box.sqlite"
    closed = record(db, seed=1, n_frames=30)["session_id"]
    with live_recording(db, commit_interval_s=0.05) as out:
        deadline, live = time.monotonic() + 120, None
        while live is None and time.monotonic() < deadline:
            time.sleep(0.1)
            conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
            try:
                row = conn.execute("SELECT uid FROM sessions WHERE end_reason IS NULL AND frames > 0").fetchone()
            except sqlite3.OperationalError:  # the writer holds a lock for a moment: ask again
                row = None
            finally:
                conn.close()
            live = row and row[0]
        assert live, "the live session never committed a frame"
        usb = tmp_path / "usb"
        proc = agma("dump", "--new", "-o", str(usb), "--db", str(db), "--json")
        text = agma("dump", "--new", "-o", str(usb), "--db", str(db))
    assert out["summary"]["end_reason"] == "stopped"
    assert proc.returncode == 0, proc.stderr
    doc = last_json(proc)
    assert [(d["session_id"], d["status"]) for d in doc["dumps"]] == [(closed, "written")]
    assert doc["skipped_open"] == [live]
    skipped = [line for line in proc.stderr.splitlines() if "open session" in line]
    assert skipped == [f"dump --new: 1 open session not dumped (still recording, or interrupted and not yet "
                       f"recovered; dumped once ended): {live}"]
    assert text.returncode == 0 and any(live in line and "not dumped" in line for line in text.stderr.splitlines())
    assert sorted(p.name for p in usb.iterdir()) == [f"{closed}.sqlite", f"{closed}.sqlite.sha256"]


def test_no_line_when_nothing_is_open(tmp_path):
    db = tmp_path / "box.sqlite"
    record(db, n_frames=15)
    proc = agma("dump", "--new", "-o", str(tmp_path / "usb"), "--db", str(db), "--json", check=True)
    assert "open session" not in proc.stderr and last_json(proc)["skipped_open"] == []
