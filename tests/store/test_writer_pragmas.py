"""The writer's durability settings read back from the live connection, so they cannot silently change."""
from __future__ import annotations

from appliance.store.writer import StoreWriter


def test_wal_and_synchronous_full(tmp_path):
    w = StoreWriter(tmp_path / "w.sqlite", commit_interval_s=0.05)
    w.start()
    try:
        mode, sync = w.call(lambda c: (c.execute("PRAGMA journal_mode").fetchone()[0],
                                       c.execute("PRAGMA synchronous").fetchone()[0]))
    finally:
        w.stop()
    assert mode == "wal"
    assert sync == 2  # FULL


def test_stored_count_moves_only_after_commit(tmp_path):
    """A frame counts as stored only after its COMMIT: queued frames are not counted until flushed."""
    import numpy as np

    from appliance import __version__
    from appliance.capture.synthetic import SyntheticSource
    from tests.sim_keypoints import SimulatedKeypointModel
    from appliance.stereo.stage import to_pose3d
    from appliance.stereo.validity import ValidityRules
    from appliance.store import sessions

    src = SyntheticSource(seed=1, n_frames=10, paced=False, render=False)
    model = SimulatedKeypointModel(0.0, 1)
    poses = [to_pose3d(f, *model.estimate(f), ValidityRules()) for f in src.frames()]
    w = StoreWriter(tmp_path / "c.sqlite", commit_interval_s=30.0)  # no timed commit during the test
    w.start()
    try:
        row = w.call(lambda c: sessions.open_session(c, box_id="t", bed_label="", source="synthetic", model="simulated",
                                                      model_sha256=None, decoder=None, fps_nominal=30.0,
                                                      calibration=src.calibration, software_version=__version__))
        for p in poses:
            w.offer(row.id, p, wait=True)
        assert w.stored_frames == 0
        w.call(lambda c: None)  # flushes pending frames first
        assert w.stored_frames == 10
        assert w.last_stored_t_ns == poses[-1].t_ns
        n = w.call(lambda c: c.execute("SELECT frames FROM sessions WHERE id = ?", (row.id,)).fetchone()[0])
        assert n == 10
        assert np.isfinite(poses[0].latency_ms)
    finally:
        w.stop()
