"""A live (paced) `agma record --duration D` stands for a camera: 30·D frames, paced by the source.

What a slow machine cannot break is checked here: every one of the 60 frames is either stored or
counted as dropped, and the session lasted at least as long as the source's schedule (frame 59 is
due 59/30 s after the first; a lower bound, so it proves pacing, not speed). The test used to also
assert zero drops and 20 < fps < 40: both measure the machine (a busy 2-core CI machine drops
frames and runs slower), so they are gone. The schedule itself is checked exactly with a simulated
clock in tests/capture/test_synthetic_paced.py; a live session's fps and drops are measured by
`agma bench`, not judged in a test.
"""
from __future__ import annotations

import sqlite3

from tests.helpers import agma, last_json

FPS, DURATION_S = 30, 2


def test_paced_session_is_paced_by_the_source(tmp_path):
    proc = agma("record", "--duration", str(DURATION_S), "--db", str(tmp_path / "p.sqlite"), "--json")
    assert proc.returncode == 0, proc.stderr
    s = last_json(proc)
    n = FPS * DURATION_S
    assert s["end_reason"] == "duration"
    assert s["frames"] + s["dropped_frames"] == n  # every frame the source gave is stored or counted
    assert s["frames"] >= 1
    assert s["elapsed_s"] >= (n - 1) / FPS - 1e-3  # not as fast as possible: the source waited for each slot
    with sqlite3.connect(s["db"]) as c:  # the stored frames carry the source's schedule: 1/30 s apart
        rows = c.execute("SELECT frame_index, t_ns FROM frames ORDER BY frame_index").fetchall()
    assert len(rows) == s["frames"] and all(0 <= i < n for i, _ in rows)
    t0 = rows[0][1] - round(rows[0][0] * 1e9 / FPS)
    assert all(abs(t - (t0 + round(i * 1e9 / FPS))) <= 1 for i, t in rows)


def test_simulated_model_needs_ground_truth_source_message(tmp_path):
    """A bad model spec is a configuration error: exit 78, one line naming the key."""
    proc = agma("record", "--duration", "1", "--model", "bogus", "--db", str(tmp_path / "x.sqlite"))
    assert proc.returncode == 78
    assert "pose.model" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.sqlite").exists()
