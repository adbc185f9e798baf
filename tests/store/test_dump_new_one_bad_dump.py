"""`agma dump --new`: one session whose dump fails never stops the others.

A box's file from wave 1 can hold sessions whose uid cannot name a file (box.id "a/b c" was
accepted then; box.id is checked at config time now, but the old rows stay). `dump --new` used to
stop at the first such session: the good sessions after it were never dumped, and the USB stick
came back short. Now each failure is one line naming the session and why, every other session is
dumped (and verifies with its .sha256), and the exit code is 1 so a script sees it.
"""
from __future__ import annotations

import hashlib
import sqlite3

from tests.helpers import agma, last_json
from tests.store.recorded import record


def test_the_sessions_after_a_bad_one_are_still_dumped(tmp_path):
    db = tmp_path / "box.sqlite"
    uids = [record(db, seed=i, n_frames=15)["session_id"] for i in range(3)]
    bad = "a/b c-" + uids[1].split("-", 1)[1]  # as box.id "a/b c" made it
    with sqlite3.connect(db) as c:
        c.execute("UPDATE sessions SET uid = ? WHERE uid = ?", (bad, uids[1]))
    usb = tmp_path / "usb"
    proc = agma("dump", "--new", "-o", str(usb), "--db", str(db), "--json")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"dump --new: session {bad} not dumped: session uid {bad!r} cannot name a file",
        f"dump --new: 2 written, 0 already present, 1 failed in {usb}"]
    doc = last_json(proc)
    assert [(d["session_id"], d["status"]) for d in doc["dumps"]] == [
        (uids[0], "written"), (bad, "failed"), (uids[2], "written")]
    assert doc["dumps"][1]["error"] == f"session uid {bad!r} cannot name a file"
    assert sorted(p.name for p in usb.rglob("*")) == sorted(
        [f"{u}.sqlite" for u in (uids[0], uids[2])] + [f"{u}.sqlite.sha256" for u in (uids[0], uids[2])])
    for u in (uids[0], uids[2]):
        digest = (usb / f"{u}.sqlite.sha256").read_text().split()[0]
        assert digest == hashlib.sha256((usb / f"{u}.sqlite").read_bytes()).hexdigest()
        with sqlite3.connect(usb / f"{u}.sqlite") as c:
            assert c.execute("SELECT uid, frames FROM sessions").fetchall() == [(u, 15)]
    # run again: the good ones are present, the bad one is reported again, nothing rewritten
    again = agma("dump", "--new", "-o", str(usb), "--db", str(db), "--json")
    assert again.returncode == 1
    assert [d["status"] for d in last_json(again)["dumps"]] == ["present", "failed", "present"]
