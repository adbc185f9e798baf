"""The same closed session dumped twice gives the same bytes, so its sha256 identifies it.

`agma dump --new` and a researcher comparing a USB copy with the box's pending dump rely on the
digest meaning "this session", not "this run of the dump".
"""
from __future__ import annotations

from appliance.files import sha256_file
from appliance.store.dump import dump_session
from tests.store.recorded import record


def test_same_session_same_sha256(tmp_path):
    db = tmp_path / "box.sqlite"
    s = record(db, n_frames=30)
    a = dump_session(db, s["session_id"], tmp_path / "a.sqlite")
    record(db, seed=4, n_frames=30)  # the database changes around it
    b = dump_session(db, s["session_id"], tmp_path / "b.sqlite")
    assert a.sha256 == b.sha256 == sha256_file(tmp_path / "b.sqlite")
    assert len(a.sha256) == 64
