"""A daemon under test: `agma daemon` as a subprocess in a temporary folder, driven only by `agma` commands."""
from __future__ import annotations

import contextlib
import os
import signal
import time
import sqlite3
from pathlib import Path

from tests.helpers import DEADLINE_S, Lines, agma, last_json, start_agma, wait_until


def daemon_env(tmp: Path, **extra: str) -> dict:
    """Environment of a simulated box in ``tmp``: synthetic source, no images (the simulated model
    needs none), short commits, the database and its socket in ``tmp``."""
    env = {
        "AGMA_STORE__DB": str(tmp / "box.sqlite"),
        "AGMA_CAPTURE__SOURCE": "synthetic",
        "AGMA_SIM__RENDER": "false",
        "AGMA_STORE__COMMIT_INTERVAL_S": "0.2",
        "AGMA_STORE__MIN_FREE_MB": "0",
        "AGMA_STORE__DUMP_DIR": "off",
        "AGMA_BOX__ID": "testbox",
        "NOTIFY_SOCKET": "",  # not systemd's, should the tests run under it (tests/runtime/notify_socket.py sets one)
    }
    env.update(extra)
    return env


def ctl(env: dict, *args: str):
    """`agma <args> --json` against the daemon: (exit code, the JSON answer)."""
    p = agma(*args, "--json", env=env, timeout=DEADLINE_S)
    return p.returncode, last_json(p)


def status(env: dict) -> dict:
    return ctl(env, "status")[1]


@contextlib.contextmanager
def running_daemon(env: dict, ready: bool = True, args: tuple[str, ...] = ()):
    """A daemon that answers status and (ready=True) is ready to start (engine warmed up, camera
    delivering); ready=False: as soon as it answers. args: more `agma daemon` arguments (-v)."""
    pids: list[int] = []
    try:
        with start_agma("daemon", *args, env=env) as proc:
            pids.append(proc.pid)
            log = Lines(proc.stderr)
            proc.log = log
            if ready:
                wait_until(lambda: status(env).get("ready"), "the daemon ready to start", proc=proc)
            else:
                wait_until(lambda: status(env).get("ok"), "the daemon answering", proc=proc)
            yield proc
    finally:
        # A block left without stopping the daemon SIGKILLs its process group: the capture ring of
        # a killed daemon stays in /dev/shm (the box sweeps it at its next start). Leave nothing.
        for pid in pids:
            _sweep_rings(pid)


def _sweep_rings(daemon_pid: int) -> None:
    """Unlink the capture rings of a daemon whose processes are gone (waits for the capture child's end)."""
    from appliance.capture.ring import sweep_stale
    from appliance.runtime.camera_process import RING_PREFIX

    prefix = f"{RING_PREFIX}{daemon_pid}-"
    deadline = time.monotonic() + 10.0
    while True:
        sweep_stale(prefix)
        left = [n for n in os.listdir("/dev/shm") if n.startswith(prefix)] if os.path.isdir("/dev/shm") else []
        if not left or time.monotonic() > deadline:  # an owner still alive: not ours to remove
            return
        time.sleep(0.1)  # the capture child dies with its group a moment after the daemon


def stop_daemon(proc, sig=signal.SIGTERM) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=DEADLINE_S)


def session_rows(db: Path) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in conn.execute("SELECT * FROM sessions ORDER BY id")]
        for r in rows:
            r["stored"] = conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (r["id"],)).fetchone()[0]
            r["events"] = [e[0] for e in conn.execute("SELECT kind FROM events WHERE session_id = ? ORDER BY id",
                                                      (r["id"],))]
        return rows
    finally:
        conn.close()
