"""Paced replay delivers at the recorded rate (the recorded timestamps' spacing), unpaced as
fast as asked, and close() stops a paced replay without waiting for the next frame's time.

No bound here can be broken by a slow machine. Paced arrivals are checked from below only (a
frame never comes before its recorded offset). "Unpaced does not wait" and "close() interrupts
the wait" used to be upper bounds of 0.3 s and 1 s, which a busy machine can break; now the
recorded gaps are made huge (100 s, 1000 s) and the replay must finish within DEADLINE_S, a small
fraction of the gap a waiting replay would take, while reading a few small frames takes a
fraction of a second even on a slow machine.
"""
from __future__ import annotations

import threading
import time

from appliance.capture.replay import ReplaySource, write_replay
from tests.helpers import DEADLINE_S

from . import replay_frames


def test_paced_frames_never_arrive_early(tmp_path):
    frames = replay_frames.frames(n=5, fps=20.0)
    write_replay(tmp_path / "rec", frames, fps=20.0, codec="png")
    span_s = (frames[-1].t_ns - frames[0].t_ns) / 1e9  # indices 0,1,2,5,6: 0.3 s

    t0 = time.monotonic()
    arrivals = [time.monotonic() - t0 for _ in ReplaySource(tmp_path / "rec", paced=True).frames()]
    assert len(arrivals) == 5
    assert arrivals[-1] >= span_s - 0.01
    # frame k arrives no earlier than its recorded offset
    for f, t in zip(frames, arrivals):
        assert t >= (f.t_ns - frames[0].t_ns) / 1e9 - 0.01


def test_unpaced_does_not_wait_for_the_recorded_times(tmp_path):
    frames = replay_frames.frames(n=5, fps=0.01)  # 100 s apart: indices 0,1,2,5,6 span 600 s
    write_replay(tmp_path / "rec", frames, fps=0.01, codec="png")
    t0 = time.monotonic()
    assert [f.index for f in ReplaySource(tmp_path / "rec", paced=False).frames()] == [0, 1, 2, 5, 6]
    assert time.monotonic() - t0 < DEADLINE_S  # 600 s if it had waited


def test_close_interrupts_the_wait(tmp_path):
    frames = replay_frames.frames(n=2, fps=0.001)  # frame 1 is due 1000 s after frame 0
    write_replay(tmp_path / "rec", frames, fps=0.001, codec="png")
    src = ReplaySource(tmp_path / "rec", paced=True)
    got = []
    closer = threading.Timer(0.2, src.close)

    def consume() -> None:
        for f in src.frames():
            got.append(f)
            if len(got) == 1:
                closer.start()  # close while the replay waits for frame 1

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    try:
        reader.join(DEADLINE_S)
        assert not reader.is_alive(), "close() did not interrupt the wait for the next frame"
        assert len(got) == 1
    finally:
        src.close()
        closer.cancel()


def test_restamp(tmp_path):
    write_replay(tmp_path / "rec", replay_frames.frames(n=2), fps=30.0, codec="png")
    before = time.time_ns()
    got = list(ReplaySource(tmp_path / "rec", paced=False, restamp=True).frames())
    assert all(before <= f.t_ns <= time.time_ns() for f in got)
