"""`agma dump`: one session to a file with its sha256 on stdout, or --new to fill a folder."""
from __future__ import annotations

import hashlib
import sqlite3

from tests.helpers import agma, last_json
from tests.store.recorded import record


def test_dump_prints_the_files_sha256(tmp_path):
    db = tmp_path / "box.sqlite"
    uid = record(db, n_frames=20)["session_id"]
    record(db, seed=3, n_frames=20)
    out = tmp_path / "one.sqlite"
    proc = agma("dump", uid, "-o", str(out), "--db", str(db), check=True)
    digest, name = proc.stdout.strip().splitlines()[-1].split("  ")
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest() and name == str(out)
    conn = sqlite3.connect(out)
    assert conn.execute("SELECT uid FROM sessions").fetchall() == [(uid,)]
    conn.close()
    doc = last_json(agma("dump", uid, "-o", str(out), "--db", str(db), "--json", "--force", check=True))
    assert doc["sha256"] == digest and doc["frames"] == 20 and doc["session_id"] == uid


def test_dump_new_fills_a_folder_once(tmp_path):
    db = tmp_path / "box.sqlite"
    uids = [record(db, seed=i, n_frames=15)["session_id"] for i in range(2)]
    usb = tmp_path / "usb"
    first = last_json(agma("dump", "--new", "-o", str(usb), "--db", str(db), "--json", check=True))
    assert [(d["session_id"], d["status"]) for d in first["dumps"]] == [(u, "written") for u in uids]
    assert sorted(p.name for p in usb.iterdir()) == sorted([f"{u}.sqlite" for u in uids] + [f"{u}.sqlite.sha256" for u in uids])
    second = last_json(agma("dump", "--new", "-o", str(usb), "--db", str(db), "--json", check=True))
    assert [d["status"] for d in second["dumps"]] == ["present", "present"]


def test_usage_and_unknown_session(tmp_path):
    db = tmp_path / "box.sqlite"
    uid = record(db, n_frames=15)["session_id"]
    assert agma("dump", "-o", str(tmp_path / "x.sqlite"), "--db", str(db)).returncode == 2  # neither
    assert agma("dump", uid, "--new", "-o", str(tmp_path), "--db", str(db)).returncode == 2  # both
    proc = agma("dump", "box-nope", "-o", str(tmp_path / "x.sqlite"), "--db", str(db))
    assert proc.returncode == 1 and "no session" in proc.stderr and not (tmp_path / "x.sqlite").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind
