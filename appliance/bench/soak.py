"""`agma bench soak [--frames N] [--db PATH]`: an hour of frames through the box's runtime, at full speed.

N frame pairs (default 108,000: one hour at 30 FPS) go through the runtime `agma daemon` and
`agma record` share (runtime/box.py: capture thread, inference thread, store writer, control
loop), offline: the synthetic source unpaced, the simulated model, every frame stored, none
dropped. The database is a temporary file unless ``--db`` is given. When a broker answers on
the configured MQTT host and port (mqtt.host, mqtt.port: localhost:1883 by default), the box's real
MQTT sink publishes to it meanwhile.

Sampled about once a second (the control loop's progress callback), kept at the first sample
past each 1,000 committed frames: the process's RSS, its open file descriptors and the
runtime's queue depths. Reported: ``rss_growth_mb`` (the largest RSS after the warm-up, the
first ``WARMUP_FRAMES``, minus the RSS at its end), ``fd_growth`` (the open files of the last
samples of the run against those right after the warm-up, each the median of three: a leak keeps
what it opened, while a file open for a moment beside a sample — a read-only query, a reconnect
— is not one), the largest queue
depth after the warm-up, the database's size (file and WAL) against the disk guard's estimate
(store/diskguard.py ``BYTES_PER_FRAME`` per frame), and ``frames`` stored. The goal (growth <=
``GOAL_RSS_GROWTH_MB``, fds and queues flat) is reported as ``within_goal``; no bound is asserted
here (tests/bench/test_soak.py runs 10,000 frames and asserts it). How much the stages overlap:
``thread_cpu_s``, the CPU seconds of the capture, inference and store-writer threads up to the
last sample, and ``stage_concurrency``, their sum over the wall time to that sample (1.0: one
stage at a time; above: stages running at once, at most ``cpus``).
"""
from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from pathlib import Path

from .. import bench

DEFAULT_FRAMES = 108_000
WARMUP_FRAMES = 5_000
SAMPLE_EVERY_FRAMES = 1_000
GOAL_RSS_GROWTH_MB = 20.0


def rss_mb() -> float:
    """This process's resident set size in MB (/proc/self/statm)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


#: The runtime's stage threads whose CPU time the soak reports (runtime/stages.py, store/writer.py).
STAGE_THREADS = ("capture", "inference", "store-writer")


def thread_cpu_s() -> dict[str, float]:
    """CPU seconds (user + system) each living named thread of this process has used so far
    (/proc/self/task/<native id>/stat), by Python thread name; threads without /proc left out."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for t in threading.enumerate():
        try:
            with open(f"/proc/self/task/{t.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, TypeError):
            continue
        out[t.name] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime: fields 14 and 15 of stat
    return out


def _broker_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def growth(samples: list[dict], key: str, warmup_frames: int) -> float:
    """Largest ``key`` among the samples after the warm-up minus its value at the warm-up's end (the
    first sample at or past warmup_frames); 0.0 with fewer than two such samples."""
    after = [s for s in samples if s["frames"] >= warmup_frames]
    if len(after) < 2:
        return 0.0
    return max(s[key] for s in after[1:]) - after[0][key]


def steady_growth(samples: list[dict], key: str, warmup_frames: int, window: int = 3) -> float:
    """Median of ``key`` over the last ``window`` samples taken during the run minus its median over
    the first ``window`` after the warm-up (the final sample, after the runtime closed, left out);
    0.0 with too few samples. A leak moves both medians apart; one sample's transient moves neither."""
    during = [s for s in samples[:-1] if s["frames"] >= warmup_frames]
    if len(during) < 2 * window:
        return 0.0
    first = sorted(s[key] for s in during[:window])[window // 2]
    last = sorted(s[key] for s in during[-window:])[window // 2]
    return last - first


def keep_every(samples: list[dict], every: int) -> list[dict]:
    """The first sample at or past each multiple of ``every`` committed frames (and the first one)."""
    kept, next_mark = [], 0
    for s in samples:
        if s["frames"] >= next_mark:
            kept.append(s)
            next_mark = (s["frames"] // every + 1) * every
    return kept


def run_soak(frames: int = DEFAULT_FRAMES, db: str | None = None, config_path: str | None = None) -> dict:
    """Run the soak; -> the row (see the module docstring)."""
    from .. import config
    from ..runtime.factories import mqtt_sink
    from ..runtime.record import record_session
    from ..store import diskguard

    if frames < 1:
        raise ValueError("--frames must be >= 1")
    with tempfile.TemporaryDirectory(prefix="agma-soak-") as tmp:
        db_path = Path(db) if db else Path(tmp) / "soak.sqlite"
        base = config.load(config_path, {}, environ=os.environ)
        host, port = base["mqtt.host"], int(base["mqtt.port"])
        mqtt = _broker_answers(host, port)
        overrides = {"capture.source": ("synthetic", "soak"), "pose.model": ("simulated", "soak"),
                     "sim.render": (False, "soak"), "store.db": (str(db_path), "soak"),
                     "store.dump_dir": ("off", "soak"), "store.max_session_s": (86_400.0, "soak"),
                     "mqtt.enabled": (mqtt, "soak"), "mqtt.host": (host, "soak"), "box.id": ("soak", "soak")}
        cfg = config.load(config_path, overrides, environ=os.environ)
        duration_s = frames / float(cfg["capture.fps"])
        samples: list[dict] = []

        cpu: dict[str, float] = {}
        cpu_at: list[float] = []  # the monotonic time of the last CPU sample

        def progress(health) -> None:
            samples.append({"frames": int(health.frames), "rss_mb": rss_mb(), "fds": open_fds(),
                            "queue_depth": max(health.queue_depths.values(), default=0)})
            now = thread_cpu_s()
            cpu.update({k: v for k, v in now.items() if k in STAGE_THREADS})
            cpu_at[:] = [time.monotonic()]

        samples.append({"frames": 0, "rss_mb": rss_mb(), "fds": open_fds(), "queue_depth": 0})
        t0 = time.monotonic()
        summary = record_session(cfg, duration_s, as_fast_as_possible=True, on_progress=progress,
                                 sinks=(lambda box: [mqtt_sink(cfg, box)]) if mqtt else None)
        elapsed = time.monotonic() - t0
        samples.append({"frames": int(summary["frames"]), "rss_mb": rss_mb(), "fds": open_fds(), "queue_depth": 0})
        size = sum(p.stat().st_size for p in (db_path, db_path.with_name(db_path.name + "-wal")) if p.exists())
    # The stage threads' CPU time up to the last sample, against the wall time up to it: above 1,
    # the stages ran at once (capture of one frame beside the inference of another and the store's
    # commit of earlier ones), up to the number of cores.
    wall = (cpu_at[0] - t0) if cpu_at else 0.0
    concurrency = round(sum(cpu.values()) / wall, 2) if wall > 0 else None
    warmup = min(WARMUP_FRAMES, frames // 10)
    rss_growth = growth(samples, "rss_mb", warmup)
    fd_growth = steady_growth(samples, "fds", warmup)
    after = [s for s in samples if s["frames"] >= warmup]
    max_queue = max((s["queue_depth"] for s in after), default=0)
    estimate = frames * diskguard.BYTES_PER_FRAME
    return {
        "name": "soak", "median_us": None, "us_per_frame": round(elapsed / max(summary["frames"], 1) * 1e6, 1),
        "frames_requested": frames, "frames": summary["frames"], "dropped_frames": summary["dropped_frames"],
        "end_reason": summary["end_reason"], "elapsed_s": round(elapsed, 1), "fps": round(summary["frames"] / elapsed, 1),
        "warmup_frames": warmup, "rss_start_mb": round(samples[0]["rss_mb"], 1),
        "rss_end_mb": round(samples[-1]["rss_mb"], 1), "rss_growth_mb": round(rss_growth, 2),
        "fd_growth": int(fd_growth), "fds_end": samples[-1]["fds"], "max_queue_depth_after_warmup": max_queue,
        "db_bytes": size, "db_bytes_estimate": estimate, "db_bytes_per_frame": round(size / max(summary["frames"], 1), 1),
        "mqtt": f"{host}:{port}" if mqtt else f"no broker on {host}:{port}",
        "thread_cpu_s": {k: round(v, 1) for k, v in sorted(cpu.items())},
        "stage_concurrency": concurrency, "cpus": os.cpu_count(),
        "goal_rss_growth_mb": GOAL_RSS_GROWTH_MB,
        "within_goal": (rss_growth <= GOAL_RSS_GROWTH_MB and fd_growth <= 0
                        and summary["frames"] == frames and summary["dropped_frames"] == 0),
        "samples": keep_every(samples, SAMPLE_EVERY_FRAMES),
    }


@bench.register("soak", default=False)
def bench_soak(args) -> list[dict]:
    return [run_soak(getattr(args, "frames", None) or DEFAULT_FRAMES, getattr(args, "db", None),
                     getattr(args, "config", None))]
