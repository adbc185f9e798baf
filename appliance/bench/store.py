"""Bench rows for the store, measured on a real SQLite file.

- ``store ingest``: the writer thread's throughput per frame pair and the bytes one frame adds to
  the checkpointed file (``bytes_per_frame``, and ``mb_per_hour_30fps`` = that x 108,000 / 10^6),
  side by side for the real recording path without ground truth (a camera: what the 250 MB per
  hour budget and the compact storage are measured on) and with the simulation's ground truth
  (the larger: the disk guard's BYTES_PER_FRAME comes from it). The poses are the box's own: the
  synthetic scene through the simulated heatmap model (real heatmap maxima as scores, the default
  noise of pose/sim/noise.py from the configuration's defaults) and the default validity rules;
- ``commit synchronous=FULL`` / ``NORMAL``, side by side: the cost of one commit of one batch
  (``store.commit_interval_s`` at 30 fps) in WAL mode, and per frame. FULL fsyncs the WAL at every
  commit; NORMAL only at checkpoints (docs/durability.md says what each one survives).

The file lives in the directory of the configured database when it exists (the disk the box
records to: fsync costs depend on it), else in the temporary directory; each row names it.
"""
from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from .. import __version__, bench
from .. import config as config_mod
from ..capture.synthetic import SyntheticSource
from ..pose.stage import build as build_pose
from ..stereo.stage import to_pose3d
from ..stereo.validity import ValidityRules
from ..store import sessions
from ..store.writer import StoreWriter, connect, frame_rows, insert_rows, transaction


HOUR_FRAMES_30FPS = 30 * 3600


def _poses(n: int):
    """n frames through the default (simulated heatmap) pose stage and validity rules, as `agma record`
    makes them (configuration defaults: sim.noise_px and the rest of NoiseParams, stereo.*)."""
    cfg = config_mod.load(None, {"pose.model": ("simulated", "agma bench store")}, environ={})
    src = SyntheticSource(seed=0, n_frames=n, paced=False, render=False)
    model = build_pose(cfg, src)
    rules = ValidityRules.from_config(cfg)
    return [to_pose3d(f, *model.estimate(f), rules) for f in src.frames()], src


def _bench_dir(args) -> str | None:
    """The configured database's directory when it exists and is writable, else None (temporary dir)."""
    try:
        d = config_mod.load(getattr(args, "config", None)).db_path.parent
    except Exception:
        return None
    return os.fspath(d) if d.is_dir() and os.access(d, os.W_OK) else None


def _fs_type(path: str) -> str:
    """Filesystem type of path from /proc/mounts (longest mount point prefix); '' when unknown."""
    best, fs = "", ""
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fs = mnt, parts[2]
    except OSError:
        pass
    return fs


def _open_session(conn, src) -> int:
    return sessions.open_session(conn, box_id="bench", bed_label="", source="synthetic", model="simulated",
                                 model_sha256=None, decoder=None, fps_nominal=30.0, calibration=src.calibration,
                                 software_version=__version__).id


def _ingest(poses, src, tmp: str, truth: bool) -> dict:
    n = len(poses)
    if not truth:
        poses = [replace(p, truth=None) for p in poses]
    path = Path(tmp) / f"ingest-{'truth' if truth else 'camera'}.sqlite"
    writer = StoreWriter(path, commit_interval_s=0.5, queue_frames=n + 1)
    writer.start()
    writer.stop()
    empty = os.path.getsize(path)
    writer = StoreWriter(path, commit_interval_s=0.5, queue_frames=n + 1)
    writer.start()
    sid = writer.call(lambda c: _open_session(c, src))
    t0 = time.perf_counter()
    for p in poses:
        writer.offer(sid, p, wait=True)
    writer.flush()  # everything committed
    elapsed = time.perf_counter() - t0
    writer.stop()  # the last connection checkpoints the WAL into the file
    size = os.path.getsize(path)
    per_frame = (size - empty) / n
    return {"name": f"store ingest ({n} frames, {'with ground truth' if truth else 'without ground truth'})",
            "median_us": elapsed / n * 1e6, "frames_per_s": n / elapsed, "x_realtime_30fps": n / elapsed / 30.0,
            "bytes_per_frame": per_frame, "mb_per_hour_30fps": per_frame * HOUR_FRAMES_30FPS / 1e6}


def _commits(poses, src, tmp: str, synchronous: str, batch: int, commits: int) -> dict:
    """Median time of one COMMITted transaction of ``batch`` frames (as the writer issues them)."""
    conn = connect(Path(tmp) / f"commit-{synchronous.lower()}.sqlite", synchronous=synchronous)
    try:
        with transaction(conn):
            sid = _open_session(conn, src)
        rows = [frame_rows(sid, p) for p in poses[:batch]]
        samples = []
        for k in range(commits + 3):
            frames, joints, truth = [], [], []
            for f, j, t in rows:  # the same poses, new frame indexes
                idx = f[1] + k * batch
                frames.append((f[0], idx, *f[2:]))
                joints.extend((r[0], idx, *r[2:]) for r in j)
                truth.extend((r[0], idx, *r[2:]) for r in t)
            t0 = time.perf_counter_ns()
            with transaction(conn):
                insert_rows(conn, frames, joints, truth, {sid: batch})
            if k >= 3:  # warm-up commits left out
                samples.append((time.perf_counter_ns() - t0) / 1000.0)
        (sync_now,) = conn.execute("PRAGMA synchronous").fetchone()
    finally:
        conn.close()
    samples.sort()
    per_commit = samples[len(samples) // 2]
    assert sync_now == {"FULL": 2, "NORMAL": 1}[synchronous]
    return {"name": f"commit synchronous={synchronous} ({batch} frames)", "median_us": per_commit / batch,
            "us_per_commit": per_commit, "p90_us_per_commit": samples[int(len(samples) * 0.9)],
            "frames_per_commit": batch, "commits": commits}


@bench.register("store", default=False)
def bench_store(args) -> list[dict]:
    n = max(300, getattr(args, "repeat", 200) * 10)
    batch = 15  # store.commit_interval_s 0.5 s at 30 fps
    commits = max(30, getattr(args, "repeat", 200) // 2)
    poses, src = _poses(max(n, batch))
    where = _bench_dir(args)
    with tempfile.TemporaryDirectory(prefix="agma-bench-", dir=where) as tmp:
        fs = {"dir": os.path.dirname(tmp), "fs": _fs_type(os.path.realpath(tmp))}
        rows = [_ingest(poses[:n], src, tmp, truth=False), _ingest(poses[:n], src, tmp, truth=True)]
        for sync in ("FULL", "NORMAL"):
            rows.append(_commits(poses, src, tmp, sync, batch, commits))
    for r in rows:
        r.update(fs)
    return rows
