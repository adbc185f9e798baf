"""The stated durability, read back from the connection that records, while it records.

docs/durability.md promises: WAL, synchronous=FULL (every COMMIT fsynced before it returns), so a
crash loses nothing committed and a power cut at most the batch being committed. The promise
rests on two PRAGMAs of the live writer connection; this reads them from the connection of a
running session (not a fresh one), and the file header's WAL mark from outside, so that neither
can silently change. (tests/store/test_writer_pragmas.py reads them from a bare writer.)
"""
from __future__ import annotations

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.runtime.record import record_session
from appliance.store import writer as writer_mod
from tests.helpers import REPO
from tests.store.expected_rows import _scene


def test_live_session_connection_is_wal_and_synchronous_full(tmp_path):
    db = tmp_path / "d.sqlite"
    cfg = config.load(None, {"store.db": (str(db), "test")}, environ={})
    boxes, seen = [], []

    def on_progress(h):
        if not seen:
            seen.append(boxes[0].writer.call(lambda c: (
                c.execute("PRAGMA journal_mode").fetchone()[0], c.execute("PRAGMA synchronous").fetchone()[0],
                c.execute("PRAGMA foreign_keys").fetchone()[0])))

    record_session(cfg, 1.2, False, on_progress=on_progress, on_box=boxes.append,
                   open_source=lambda: SyntheticSource(seed=1, n_frames=36, paced=True, render=False),
                   build_pose=lambda info: _scene(1, 1.0)[1])
    assert seen == [("wal", 2, 1)]  # 2 = FULL
    header = db.read_bytes()[:20]
    assert header[18] == header[19] == 2  # file format read/write version 2: WAL


def test_documented_guarantee_matches_the_code():
    doc = (REPO / "docs" / "durability.md").read_text()
    assert writer_mod.JOURNAL_MODE == "wal" and writer_mod.SYNCHRONOUS == "FULL"
    assert "synchronous=FULL" in doc and "WAL" in doc
