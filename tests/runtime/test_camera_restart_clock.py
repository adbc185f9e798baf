"""A restarted capture process continues the camera's clock: after a crash and a hang, every stored
frame of the session sits on the one clock that started with the daemon's source, its frame
counter went on counting, and each gap is a hole of its length.

Why: a ZED keeps its epoch clock across a replug, and exports keep real time only if a gap is a
hole of its length and no frame_index repeats. The synthetic source must behave the same way
across capture-process restarts, or the supervision tests would test a camera that does not
exist (a clock and a counter starting again at 0 in each new process). A real daemon records one
session through ``crash@10+0`` and ``hang@14+0``; what is checked is read from its database:

- the source's counter of the first frame is recovered from its stored joints (the simulated
  model without noise stores the ground truth, a function of the counter): that fixes the origin;
- every frame, before and after both restarts, has ``t_ns = origin + counter / fps`` with
  ``counter = first counter + frame_index``, and its stored joints are the truth of that counter;
- the last frame before each gap is the one just before the fault's start (nothing is lost
  before it), the first after it was captured at or after the fault's end (a hang's end: its
  start plus camera.hang_after_s), and no later than the camera_restored event that it caused.

No bound comes from the machine's speed: the gap's far end is bounded by the events' own t_ns.
"""
from __future__ import annotations

import json
import time

from tests.helpers import wait_until

from .camera_clock import (EXACT_MODEL, FPS, camera_events, first_slot, read_session, slot_ns, source_origin,
                           uv_error_px)
from .daemon_env import ctl, daemon_env, running_daemon, session_rows, stop_daemon

CRASH_S, HANG_S = 10.0, 14.0
HANG_AFTER_S = 1.0
SEED = 0
#: Most a stored joint (median of a frame's 17) may differ from the truth of its counter, px. The
#: heatmap decoding's own error is ~0.003 px; one frame off is ~0.2 px (median over frames), a
#: counter started again at 0 is tens of px off.
UV_TOL_PX = 0.05


def test_restarted_capture_process_continues_the_clock(tmp_path):
    db = tmp_path / "box.sqlite"
    env = daemon_env(tmp_path, AGMA_CAPTURE__PROCESS="true", AGMA_SIM__SEED=str(SEED),
                     AGMA_SIM__FAULTS=json.dumps([f"crash@{CRASH_S:g}+0", f"hang@{HANG_S:g}+0"]),
                     AGMA_CAMERA__LOST_AFTER_S="0.5", AGMA_CAMERA__HANG_AFTER_S=str(HANG_AFTER_S), **EXACT_MODEL)
    not_before_ns = time.time_ns()  # the source's clock starts after this
    with running_daemon(env) as proc:
        code, started = ctl(env, "start")
        assert code == 0, started
        wait_until(lambda: sum(k == "camera_restored" for k, _, _ in camera_events(db)) >= 2, "two recoveries",
                   proc=proc)
        code, stopped = ctl(env, "stop")
        assert code == 0 and stopped["session_id"] == started["session_id"]
        assert proc.poll() is None
        assert stop_daemon(proc) == 0, proc.log.text()
    [row] = session_rows(db)
    assert row["end_reason"] == "stopped"
    events = camera_events(db)
    assert [(k, d) for k, _, d in events if k != "camera_lost"] == [
        ("camera_restarted", "exit status 3"), ("camera_restored", None),
        ("camera_restarted", "hung"), ("camera_restored", None)], events
    assert [k for k, _, _ in events] == ["camera_lost", "camera_restarted", "camera_restored"] * 2, events
    restored_ns = [t for k, t, _ in events if k == "camera_restored"]

    s = read_session(db, row["id"])
    assert len(s.index) == row["frames"] and len(set(s.index)) == len(s.index)  # no frame_index repeats
    i0, origin = source_origin(s, SEED, not_before_ns)
    assert i0 < first_slot(CRASH_S), f"the session began (source frame {i0}) after the crash: the daemon was slow"

    # one clock and one counter for the whole session, across both restarts
    counters = [i0 + i for i in s.index]
    off_clock = [(i, t) for i, c, t in zip(s.index, counters, s.t_ns) if abs(t - slot_ns(origin, c)) > 2]
    assert not off_clock, f"frames off the origin's clock (frame_index, t_ns): {off_clock[:5]}"
    errors = [uv_error_px(s.left_uv[k], SEED, c) for k, c in enumerate(counters)]
    wrong = [(s.index[k], round(e, 2)) for k, e in enumerate(errors) if not e <= UV_TOL_PX]
    assert not wrong, f"stored joints not the truth of their frame counter (frame_index, px): {wrong[:5]}"

    # each gap: nothing lost before it, the first frame after it at or after the fault's end and
    # no later than the camera_restored it caused
    for start_s, end_after_s, back_ns in ((CRASH_S, 0.0, restored_ns[0]), (HANG_S, HANG_AFTER_S, restored_ns[1])):
        before = first_slot(start_s) - 1
        assert before in counters, f"the frame just before the fault at {start_s} s is missing"
        after = min(c for c in counters if c > before)
        t_before, t_after = slot_ns(origin, before), slot_ns(origin, after)
        # a hang: the process last beat after frame `before`, and was killed hang_after_s later
        earliest = (slot_ns(origin, first_slot(start_s)) if end_after_s == 0.0
                    else t_before + round(end_after_s * 1e9))
        assert earliest - 1e9 / FPS <= t_after <= back_ns + 1e9 / FPS, (start_s, t_after - earliest, back_ns - t_after)
        hole = after - before - 1
        assert hole == round((t_after - t_before) * FPS / 1e9) - 1  # a hole of the gap's length
        assert (earliest - t_before) * FPS / 1e9 - 2 <= hole <= (back_ns - t_before) * FPS / 1e9, (start_s, hole)
