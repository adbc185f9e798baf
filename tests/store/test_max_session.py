"""A session without a requested duration ends by itself at store.max_session_s.

The disk guard reserves room for the longest session at start; that figure would be a guess if a
session could outlast it. So it cannot: at fps x max_session_s frames it ends as `duration`.
"""
from __future__ import annotations

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.runtime.record import record_session
from tests.store.expected_rows import _scene


def test_unbounded_session_stops_at_max_session_s(tmp_path):
    cfg = config.load(None, {"store.db": (str(tmp_path / "m.sqlite"), "test"), "store.max_session_s": (0.5, "test")},
                      environ={})
    src = SyntheticSource(seed=1, n_frames=None, paced=False, render=False)  # would run for ever
    s = record_session(cfg, None, True, open_source=lambda: src, build_pose=lambda info: _scene(1, 1.0)[1])
    # 0.5 s at the source's 30 fps: 15 frames, the frame budget the runtime gives a session without a duration
    assert (s["frames"], s["dropped_frames"], s["end_reason"]) == (15, 0, "duration")
