"""The camera stops delivering for two seconds mid-session: the session stays open, the gap is a hole
of its length in frame_index, and camera_lost then camera_restored are events of that session.

Why: a pulled cable or a rebooting camera must not end a nurse's recording, and a researcher must
see the gap where it happened (exports keep real time). The source here is the real synthetic
camera, paced, whose frames 150-209 (5 s to 7 s of its clock) are never delivered: time passes,
nothing arrives, exactly as with an unplugged camera. camera.lost_after_s is 0.5 s.
"""
from __future__ import annotations

import sqlite3
import threading

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.pose.stage import build
from appliance.runtime import machine as m
from appliance.runtime.box import Box, BoxOptions

from tests.helpers import DEADLINE_S, wait_until

GAP = range(150, 210)  # source frames never delivered: 60 slots at 30 fps


class GappySource(SyntheticSource):
    def frames(self):
        for frame in super().frames():
            if frame.index not in GAP:
                yield frame


def test_camera_gap_keeps_the_session(tmp_path):
    db = tmp_path / "box.sqlite"
    cfg = config.load(None, {"store.db": (str(db), "test"), "camera.lost_after_s": (0.5, "test"),
                             "store.dump_dir": ("off", "test"), "store.min_free_mb": (0.0, "test"),
                             "store.commit_interval_s": (0.1, "test")}, environ={})
    box = Box(cfg, BoxOptions(live=True), lambda: GappySource(render=False), lambda info: build(cfg, info))
    box.open()
    loop = threading.Thread(target=box.run, name="test-control-loop")
    try:
        loop.start()
        wait_until(lambda: box.health().ready, "the box ready")
        assert box.request("start", "socket")["ok"]
        wait_until(lambda: box.health().camera == "lost", "the camera seen lost")
        h = box.health()
        assert h.state == "recording" and h.health == "degraded" and "camera lost" in h.error
        wait_until(lambda: box.health().camera == "ok", "the camera back")
        frames_back = box.health().frames
        wait_until(lambda: box.health().frames > frames_back + 30, "recording on after the gap")
        assert box.request("stop", "socket")["ok"]
    finally:
        box.post(m.Shutdown("test"))
        loop.join(DEADLINE_S)
        assert box.close() == []
    conn = sqlite3.connect(db)
    try:
        [(sid, reason, frames)] = conn.execute("SELECT id, end_reason, frames FROM sessions").fetchall()
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY id", (sid,))]
        rows = conn.execute("SELECT frame_index, t_ns FROM frames WHERE session_id = ? ORDER BY frame_index",
                            (sid,)).fetchall()
    finally:
        conn.close()
    assert reason == "stopped" and frames == len(rows)
    assert kinds == ["session_started", "camera_lost", "camera_restored", "session_ended"]
    idx = [i for i, _ in rows]
    t_first = rows[0][1]
    # every index is the frame's slot at 30 fps since the session's first frame
    assert all(i == round((t - t_first) * 30 / 1e9) for i, t in rows)
    holes = [b - a - 1 for a, b in zip(idx, idx[1:])]
    assert max(holes) >= len(GAP)  # the gap is a hole of (at least, with drops beside it) its length
    assert idx[0] == 0 and len(set(idx)) == len(idx)
