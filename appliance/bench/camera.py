"""`agma bench camera`: how fast the box notices and survives a camera interruption, against the
targets of the camera-process design — degraded within 2 s of the last frame, a hung capture
process killed within 5 s, recording again within 15 s of the camera's return.

A real `agma daemon` with `capture.process` and the synthetic source records one session through
injected faults (`stop@4+3`, `hang@10+0`, `crash@17+0`); the delays are read back from the
database: the last frame before each gap, its `camera_lost` / `camera_restarted` events, the first
frame after it. Figures only: no bound is asserted (the targets are in the rows).
"""
from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import bench
from .daemon import _wait

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
    from ..status.control_socket import request

    tmp = Path(tempfile.mkdtemp(prefix="agma-bench-camera-"))
    sock = tmp / "agma.sock"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
    env.update({"AGMA_STORE__DB": str(tmp / "bench.sqlite"), "AGMA_CAPTURE__SOURCE": "synthetic",
                "AGMA_SIM__RENDER": "false", "AGMA_STORE__DUMP_DIR": "off", "AGMA_DAEMON__SOCKET": str(sock),
                "AGMA_CAPTURE__PROCESS": "true", "AGMA_SIM__FAULTS": FAULTS})
    proc = subprocess.Popen([sys.executable, "-m", "appliance", "daemon"], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def status():
            try:
                return request(sock, {"action": "status"}, timeout_s=5.0)
            except Exception:
                return None
        _wait(lambda: (s := status()) and s.get("ready"), 120.0, "the daemon ready")
        request(sock, {"action": "start"}, timeout_s=30.0)
        time.sleep(25.0)  # past the last fault and its recovery
        request(sock, {"action": "stop"}, timeout_s=30.0)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        return _delays(tmp / "bench.sqlite")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
