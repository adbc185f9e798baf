"""A finished session's dump waits in the dump folder as <uid>.sqlite + <uid>.sqlite.sha256, atomically.

A puller (rsync from a laptop, a USB copy) may look at the folder at any moment: a half-written
file must never appear under its final name, the .sha256 comes last and vouches for the file, and
a failed dump leaves nothing behind that looks like a dump.
"""
from __future__ import annotations

import hashlib
import subprocess

import pytest

from appliance.errors import AgmaError
from appliance.store import dump as dump_mod
from appliance.store.dump import dump_is_present, write_pending_dump
from tests.store.recorded import record


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pending")
    db = tmp / "box.sqlite"
    return db, record(db, n_frames=30)["session_id"]


def test_dump_and_sidecar(box, tmp_path):
    db, uid = box
    path = write_pending_dump(db, uid, tmp_path / "dumps")
    assert path == tmp_path / "dumps" / f"{uid}.sqlite"
    side = path.with_name(path.name + ".sha256")
    assert side.read_text() == f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {uid}.sqlite\n"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, side.name]  # no temporary left
    assert subprocess.run(["sha256sum", "-c", side.name], cwd=path.parent, capture_output=True).returncode == 0
    assert dump_is_present(path)


def test_a_failed_dump_leaves_no_final_name(box, tmp_path, monkeypatch):
    db, uid = box
    seen = []

    def fail(path, uid_):  # the moment before the rename: the file exists only under its temporary name
        seen.append(path)
        raise AgmaError("simulated failure")

    monkeypatch.setattr(dump_mod, "_check_dump", fail)
    with pytest.raises(AgmaError):
        write_pending_dump(db, uid, tmp_path)
    assert seen and seen[0].name.startswith(".") and seen[0].name != f"{uid}.sqlite"
    assert list(tmp_path.iterdir()) == []


def test_rewrite_never_vouches_for_a_stale_file(box, tmp_path, monkeypatch):
    """Rewriting over an older dump: its old .sha256 goes first, so no moment pairs old digest and new file."""
    db, uid = box
    path = write_pending_dump(db, uid, tmp_path)
    path.write_bytes(b"garbage")  # a damaged copy, its sidecar still there
    assert not dump_is_present(path)
    monkeypatch.setattr(dump_mod, "_check_dump", lambda p, u: (_ for _ in ()).throw(AgmaError("boom")))
    with pytest.raises(AgmaError):
        write_pending_dump(db, uid, tmp_path)
    assert not path.with_name(path.name + ".sha256").exists()
    monkeypatch.undo()
    write_pending_dump(db, uid, tmp_path)
    assert dump_is_present(path)


def test_uid_that_would_escape_the_folder_is_refused(box, tmp_path):
    db, _ = box
    for bad in ("../x", ".hidden", "a/b", ""):
        with pytest.raises(AgmaError):
            write_pending_dump(db, bad, tmp_path)


def test_never_over_the_database_itself(box):
    db, uid = box
    with pytest.raises(AgmaError, match="over the database"):
        dump_mod.dump_session(db, uid, db)


def test_stale_temporaries_of_a_killed_dump_are_removed(box, tmp_path):
    import os
    import time

    db, uid = box
    stale = tmp_path / f".{uid}.sqlite.build-deadbeef"
    stale.write_bytes(b"half")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    fresh = tmp_path / f".{uid}.sqlite.tmp-cafecafe"  # maybe a dump still running: kept
    fresh.write_bytes(b"busy")
    write_pending_dump(db, uid, tmp_path)
    assert not stale.exists() and fresh.exists()


def test_dump_folder_from_config(tmp_path):
    """store.dump_dir: empty -> dumps/ beside the database, 'off' -> no dumps, else the folder named."""
    from appliance import config
    from appliance.store.dump import pending_dump_dir

    def cfg(value):
        return config.load(None, {"store.db": (str(tmp_path / "box.sqlite"), "t"), "store.dump_dir": (value, "t")},
                           environ={})

    assert pending_dump_dir(cfg("")) == tmp_path / "dumps"
    assert pending_dump_dir(cfg("off")) is None
    assert pending_dump_dir(cfg(str(tmp_path / "pull"))) == tmp_path / "pull"
