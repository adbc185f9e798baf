"""Bench rows for the store: writer ingest per frame pair, measured on a real SQLite file."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .. import __version__, bench
from ..capture.synthetic import SyntheticSource
from ..pose.simulated import SimulatedKeypointModel
from ..stereo.stage import to_pose3d
from ..stereo.validity import ValidityRules
from . import sessions
from .writer import StoreWriter


def _poses(n: int):
    src = SyntheticSource(seed=0, n_frames=n, paced=False, render=False)
    model = SimulatedKeypointModel(noise_px=1.0, seed=0)
    rules = ValidityRules()
    return [to_pose3d(f, *model.estimate(f), rules) for f in src.frames()], src


@bench.register("store")
def bench_store(args) -> list[dict]:
    n = max(300, getattr(args, "repeat", 200) * 10)
    poses, src = _poses(n)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        writer = StoreWriter(path, commit_interval_s=0.5, queue_frames=n + 1)
        writer.start()
        row = writer.call(lambda c: sessions.open_session(
            c, box_id="bench", bed_label="", source="synthetic", model="simulated", model_sha256=None, decoder=None,
            fps_nominal=30.0, calibration=src.calibration, software_version=__version__))
        t0 = time.perf_counter()
        for p in poses:
            writer.offer(row.id, p, wait=True)
        writer.call(lambda c: None)  # everything committed
        elapsed = time.perf_counter() - t0
        writer.stop()
        size = os.path.getsize(path)
    per_frame_us = elapsed / n * 1e6
    return [{"name": f"store ingest ({n} frames, with ground truth)", "median_us": per_frame_us,
             "frames_per_s": n / elapsed, "x_realtime_30fps": n / elapsed / 30.0, "bytes_per_frame": size / n}]
