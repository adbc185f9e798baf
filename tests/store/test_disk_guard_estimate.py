"""The disk guard's bytes per frame is an upper bound of what a recorded frame really takes.

The start check multiplies BYTES_PER_FRAME (measured by `agma bench store`) by the longest
session: were the constant low, the guard would let a session start that the disk cannot hold.
A recorded simulated session (ground truth included: the largest rows) is measured here on the
checkpointed file, the session's growth divided by its frames.
"""
from __future__ import annotations

import os

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.runtime.record import record_session
from appliance.store import diskguard
from appliance.store.writer import StoreWriter
from tests.store.expected_rows import _scene


def test_recorded_bytes_per_frame_within_the_estimate(tmp_path):
    db = tmp_path / "e.sqlite"
    w = StoreWriter(db)
    w.start()
    w.stop()  # the last connection checkpoints: the empty file's size
    empty = os.path.getsize(db)
    n = 900
    # no pending dump: its read-only open would leave an (empty) -wal beside the measured file
    cfg = config.load(None, {"store.db": (str(db), "test"), "store.dump_dir": ("off", "test")}, environ={})
    s = record_session(cfg, n / 30, True, open_source=lambda: SyntheticSource(seed=4, n_frames=n, paced=False, render=False),
                       build_pose=lambda info: _scene(4, 0.5)[1])
    assert s["frames"] == n and not os.path.exists(f"{db}-wal")
    per_frame = (os.path.getsize(db) - empty) / n
    assert 0.8 * diskguard.BYTES_PER_FRAME < per_frame <= diskguard.BYTES_PER_FRAME, per_frame
