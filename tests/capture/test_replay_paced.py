"""Paced replay delivers at the recorded rate (the recorded timestamps' spacing), unpaced as
fast as asked, and close() stops a paced replay without waiting for the next frame's time."""
from __future__ import annotations

import threading
import time

from appliance.capture.replay import ReplaySource, write_replay

from . import replay_frames


def test_paced_and_unpaced(tmp_path):
    frames = replay_frames.frames(n=5, fps=20.0)
    write_replay(tmp_path / "rec", frames, fps=20.0, codec="png")
    span_s = (frames[-1].t_ns - frames[0].t_ns) / 1e9  # indices 0,1,2,5,6: 0.3 s

    t0 = time.monotonic()
    arrivals = [time.monotonic() - t0 for _ in ReplaySource(tmp_path / "rec", paced=True).frames()]
    assert arrivals[-1] >= span_s - 0.01
    # frame k arrives no earlier than its recorded offset
    for f, t in zip(frames, arrivals):
        assert t >= (f.t_ns - frames[0].t_ns) / 1e9 - 0.01

    t0 = time.monotonic()
    assert len(list(ReplaySource(tmp_path / "rec", paced=False).frames())) == 5
    assert time.monotonic() - t0 < span_s


def test_close_interrupts_the_wait(tmp_path):
    frames = replay_frames.frames(n=2, fps=0.5)  # 2 s between frames... and a gap: frame 1 at 2 s
    write_replay(tmp_path / "rec", frames, fps=0.5, codec="png")
    src = ReplaySource(tmp_path / "rec", paced=True)
    got = []
    threading.Timer(0.2, src.close).start()
    t0 = time.monotonic()
    for f in src.frames():
        got.append(f)
    assert len(got) == 1 and time.monotonic() - t0 < 1.0


def test_restamp(tmp_path):
    write_replay(tmp_path / "rec", replay_frames.frames(n=2), fps=30.0, codec="png")
    before = time.time_ns()
    got = list(ReplaySource(tmp_path / "rec", paced=False, restamp=True).frames())
    assert all(before <= f.t_ns <= time.time_ns() for f in got)
