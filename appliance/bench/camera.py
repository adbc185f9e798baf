"""`agma bench camera`: how fast the box notices and survives a camera interruption, against the
targets of the camera-process design — degraded within 2 s of the last frame, a hung capture
process killed within 5 s, recording again within 15 s of the camera's return.

A real `agma daemon` with `capture.process` and the synthetic source records one session through
injected faults (`stop@4+3`, `hang@10+0`, `crash@17+0`); the delays are read back from the
database: the last frame before each gap, its `camera_lost` / `camera_restarted` events, the first
frame after it. Figures only: no bound is asserted (the targets are in the rows).
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from .. import bench
from .daemon import BenchDaemon

FAULTS = '["stop@4+3", "hang@10+0", "crash@17+0"]'
TARGETS_S = {"degraded": 2.0, "killed": 5.0, "back": 15.0}


def _delays(db: Path) -> list[dict]:
    conn = sqlite3.connect(db)
    try:
        events = conn.execute("SELECT kind, t_ns, detail FROM events WHERE kind LIKE 'camera_%' ORDER BY id").fetchall()
        frames = [t for (t,) in conn.execute("SELECT t_ns FROM frames ORDER BY frame_index")]
    finally:
        conn.close()
    rows, gap = [], None
    for kind, t, detail in events:
        if kind == "camera_lost":
            last = max((f for f in frames if f < t), default=None)
            gap = {"last_frame": last, "lost": t, "restarted": None, "detail": "stop"}
        elif kind == "camera_restarted" and gap is not None:
            gap["restarted"], gap["detail"] = t, detail
        elif kind == "camera_restored" and gap is not None:
            back = min((f for f in frames if f > gap["lost"]), default=None)
            last = gap["last_frame"]
            if last is not None and back is not None:
                row = {"name": f"camera_{gap['detail'].replace(' ', '_')}", "median_us": None,
                       "degraded_s": (gap["lost"] - last) / 1e9, "back_s": (back - last) / 1e9,
                       "targets_s": TARGETS_S}
                if gap["restarted"] is not None:
                    row["killed_or_replaced_s"] = (gap["restarted"] - last) / 1e9
                rows.append(row)
            gap = None
    return rows


@bench.register("camera", default=False)
def bench_camera(args) -> list[dict]:
    with BenchDaemon(AGMA_CAPTURE__PROCESS="true", AGMA_SIM__FAULTS=FAULTS) as d:
        d.wait_ready()
        d.request("start")
        time.sleep(25.0)  # past the last fault and its recovery
        d.request("stop")
        d.stop()
        return _delays(d.db)
