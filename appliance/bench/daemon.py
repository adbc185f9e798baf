"""`agma bench daemon`: what a nurse and a fanless box feel — start to first stored frame, stop to
closed row, and the daemon's CPU use idle and recording — measured on a real `agma daemon`
subprocess with the synthetic source, driven through its control socket.

Rows: ``start_to_first_stored_frame`` (a start request until `status` reports a committed frame;
includes up to one store.commit_interval_s), ``stop_to_row_closed`` (the stop request until its
answer, which comes after the row is closed), ``cpu_idle`` and ``cpu_recording`` (CPU seconds per
wall second of the daemon process, all its threads, from /proc/<pid>/stat), each over ``--repeat``
sessions capped at 5 (medians). Figures only: no bound is asserted.
"""
from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .. import bench

_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime + stime


def _cpu_share(pid: int, seconds: float) -> float:
    c0, t0 = _cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (_cpu_s(pid) - c0) / (time.monotonic() - t0)


def _wait(check, timeout_s: float, what: str):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.005)
    raise RuntimeError(f"bench daemon: {what} not reached within {timeout_s:.0f} s")


class BenchDaemon:
    """A real `agma daemon` subprocess with the synthetic source in a temporary folder (``with``:
    started, then SIGTERMed — SIGKILLed as a last resort — and its folder removed)."""

    def __init__(self, **env_extra: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="agma-bench-daemon-"))
        self.sock = self.tmp / "agma.sock"
        self.db = self.tmp / "bench.sqlite"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
        env.update({"AGMA_STORE__DB": str(self.db), "AGMA_CAPTURE__SOURCE": "synthetic", "AGMA_SIM__RENDER": "false",
                    "AGMA_STORE__DUMP_DIR": "off", "AGMA_DAEMON__SOCKET": str(self.sock), **env_extra})
        self.env = env
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "BenchDaemon":
        self.proc = subprocess.Popen([sys.executable, "-m", "appliance", "daemon"], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        return self

    def request(self, action: str, timeout_s: float = 30.0) -> dict:
        from ..status.control_socket import request

        return request(self.sock, {"action": action}, timeout_s=timeout_s)

    def status(self) -> dict | None:
        try:
            return self.request("status", timeout_s=5.0)
        except Exception:
            return None

    def wait_ready(self) -> None:
        _wait(lambda: (s := self.status()) and s.get("ready"), 120.0, "the daemon ready")

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)

    def __exit__(self, *exc) -> None:
        try:
            if self.proc is not None and self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


@bench.register("daemon", default=False)
def bench_daemon(args) -> list[dict]:
    sessions = max(1, min(5, getattr(args, "repeat", 3)))
    commit_s = float(os.environ.get("AGMA_STORE__COMMIT_INTERVAL_S", "0.5"))
    with BenchDaemon() as d:
        t_boot = time.monotonic()
        d.wait_ready()
        boot_s = time.monotonic() - t_boot
        idle = _cpu_share(d.proc.pid, 3.0)
        first, closed, recording = [], [], []
        for _ in range(sessions):
            t0 = time.monotonic()
            answer = d.request("start")
            if not answer.get("ok"):
                raise RuntimeError(f"bench daemon: start refused: {answer.get('error')}")
            _wait(lambda: (s := d.status()) and s.get("frames", 0) > 0, 60.0, "the first stored frame")
            first.append(time.monotonic() - t0)
            recording.append(_cpu_share(d.proc.pid, 3.0))
            t0 = time.monotonic()
            d.request("stop")
            closed.append(time.monotonic() - t0)
        d.stop()
    n = f"{sessions} sessions"
    return [
        {"name": "start_to_first_stored_frame", "median_us": statistics.median(first) * 1e6,
         "max_us": max(first) * 1e6, "commit_interval_s": commit_s, "note": n},
        {"name": "stop_to_row_closed", "median_us": statistics.median(closed) * 1e6, "max_us": max(closed) * 1e6, "note": n},
        {"name": "cpu_idle", "median_us": None, "cpu_share": idle, "note": "CPU s per s, all threads, 3 s window"},
        {"name": "cpu_recording", "median_us": None, "cpu_share": statistics.median(recording),
         "note": "CPU s per s while recording 30 fps (simulated model), 3 s windows"},
        {"name": "boot_to_ready", "median_us": boot_s * 1e6, "note": "process start to ready (engine warmed, first frame)"},
    ]
