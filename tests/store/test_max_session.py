"""A session without a requested duration ends by itself at store.max_session_s.

The disk guard reserves room for the longest session at start; that figure would be a guess if a
session could outlast it. So it cannot: at fps x max_session_s frames it ends as `duration`.
"""
from __future__ import annotations

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.session import RecordRequest, Recorder
from tests.store.expected_rows import _scene


def test_unbounded_session_stops_at_max_session_s(tmp_path):
    cfg = config.load(None, {"store.db": (str(tmp_path / "m.sqlite"), "test"), "store.max_session_s": (0.5, "test")},
                      environ={})
    src = SyntheticSource(seed=1, n_frames=None, paced=False, render=False)  # would run for ever
    rec = Recorder(cfg, src, _scene(1, 1.0)[1], RecordRequest(None, True))
    assert rec.max_frames() == (15, "store.max_session_s")
    s = rec.run()
    assert (s["frames"], s["dropped_frames"], s["end_reason"]) == (15, 0, "duration")
