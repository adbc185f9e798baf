"""Ten thousand frame pairs through the box's runtime: all stored, none dropped, no growth.

Why: a box records for months; a leak of a few hundred bytes per frame is 100 MB a night. This
runs `agma bench soak`'s own code (the runtime `agma daemon` uses, offline, the synthetic source
and the simulated model) for 10,000 frames, and checks what the bench reports against the goal:
every frame stored (the database's own count), RSS growth after the warm-up within 20 MB, open
file descriptors flat, the queues bounded by their configured size, and the database's size under
the disk guard's per-frame estimate (so a start the guard lets through cannot fill the disk).
"""
from __future__ import annotations

import sqlite3

from appliance import config
from appliance.bench.soak import GOAL_RSS_GROWTH_MB, growth, keep_every, run_soak


def test_ten_thousand_frames_without_growth(tmp_path):
    db = tmp_path / "soak.sqlite"
    row = run_soak(10_000, str(db))
    assert row["frames"] == 10_000 and row["dropped_frames"] == 0 and row["end_reason"] == "duration", row
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0] == 10_000
    finally:
        conn.close()
    assert row["rss_growth_mb"] <= GOAL_RSS_GROWTH_MB, row
    assert row["fd_growth"] <= 0, row
    assert row["max_queue_depth_after_warmup"] <= config.load(None, {}, environ={})["pipeline.queue_frames"]
    assert 0 < row["db_bytes"] <= row["db_bytes_estimate"], row
    assert row["within_goal"] is True
    assert set(row["thread_cpu_s"]) == {"capture", "inference", "store-writer"}, row["thread_cpu_s"]
    assert all(v > 0 for v in row["thread_cpu_s"].values()) and row["stage_concurrency"] > 0
    marks = [s["frames"] for s in row["samples"]]
    assert marks == sorted(marks) and marks[0] == 0 and marks[-1] == 10_000


def test_growth_and_sampling_arithmetic():
    samples = [{"frames": f, "v": v} for f, v in ((0, 5.0), (400, 9.0), (1000, 10.0), (1500, 10.5), (2100, 13.0),
                                                   (2500, 11.0))]
    assert growth(samples, "v", 1000) == 3.0  # 13 after the warm-up, 10 at its end
    assert growth(samples, "v", 9999) == 0.0
    assert [s["frames"] for s in keep_every(samples, 1000)] == [0, 1000, 2100]


def test_open_files_growth_ignores_one_sample_transient_but_not_a_leak():
    from appliance.bench.soak import steady_growth

    def run(fds):
        return [{"frames": 1000 * i, "fds": n} for i, n in enumerate(fds)] + [{"frames": 99_000, "fds": 3}]

    assert steady_growth(run([8, 11, 11, 13, 11, 11, 11, 11]), "fds", 1000) == 0  # a query's file beside one sample
    assert steady_growth(run([8, 11, 11, 11, 12, 13, 14, 15]), "fds", 1000) == 3  # a leak: one file per 1,000 frames


def test_thread_cpu_is_each_named_threads_own():
    """The soak's stage_concurrency rests on per-thread CPU from /proc: a thread that burns 0.3 s of
    its own CPU (time.thread_time, so a loaded machine only makes it take longer) shows at least
    that, less a clock tick, under its Python name, and a thread that only sleeps shows almost none."""
    import threading
    import time

    from appliance.bench.soak import thread_cpu_s

    seen: dict = {}
    done = threading.Event()

    def burn():
        t0 = time.thread_time()
        while time.thread_time() - t0 < 0.3:
            pass
        seen.update(thread_cpu_s())
        done.set()

    def sleep():
        done.wait(60)

    sleeper = threading.Thread(target=sleep, name="soak-test-sleeper")
    burner = threading.Thread(target=burn, name="soak-test-burner")
    sleeper.start()
    burner.start()
    burner.join(60)
    sleeper.join(60)
    assert seen["soak-test-burner"] >= 0.28, seen
    assert seen["soak-test-sleeper"] <= 0.05, seen
