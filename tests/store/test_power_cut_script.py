"""The box's power-cut acceptance script runs both its phases here, with SIGKILL standing in for the cut.

The real cut (`echo b > /proc/sysrq-trigger`) can only run on the box; what can run here is
everything around it: recording, noting the reported count durably, the check phase's integrity,
reported-frames and loss-bound checks, and the next recorder's recovery. A script nobody ran
would fail on the box for a typo.

The cut phase waits for the state the cut needs (frames reported stored) with a generous
deadline (AGMA_ACCEPT_START_S, 120 s by default) and only then records SECONDS more: it used to
sleep a fixed SECONDS and fail when a busy machine had printed no progress line by then. And
whichever way it fails, it stops the recorder it started: an orphan records on for up to
store.max_session_s. The script runs under tests/helpers.run, in a process group of its own that is
killed however the test ends, so the test cannot leave the recorder behind either.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

from tests.helpers import DEADLINE_S, REPO, clean_env, run, spawned, wait_until

SCRIPT = REPO / "scripts" / "acceptance-power-cut.sh"


def _env(tmp_path, **extra) -> dict:
    return clean_env({"AGMA": f"{sys.executable} -m appliance", "AGMA_ACCEPT_DIR": str(tmp_path),
                      "AGMA_ACCEPT_ARGS": "--source synthetic", "AGMA_ACCEPT_CUT": "kill -9 $RECORD_PID",
                      "AGMA_ACCEPT_PYTHON": sys.executable, **extra})


def _run(args, env):
    return run(["bash", str(SCRIPT), *args], env=env)


def _running_on(folder) -> list[str]:
    """Command lines of the live processes that name ``folder`` (the recorder's --db is in it)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(folder) in cmd and state not in ("Z", "X"):
            found.append(f"{pid}: {cmd}")
    return found


def test_cut_then_check_with_sigkill_for_the_cut(tmp_path):
    env = _env(tmp_path)
    refused = _run(["cut", "2"], env)
    assert refused.returncode == 1 and "--yes-cut-power" in refused.stderr

    cut = _run(["cut", "--yes-cut-power", "2"], env)
    assert cut.returncode == 0, cut.stderr
    assert "cutting power now" in cut.stdout
    reported = int(cut.stdout.split("cutting power now: ")[1].split()[0])
    assert reported > 0  # the cut came after frames were reported stored, as the script waits for
    assert (tmp_path / "power-cut.pending").exists()
    assert _running_on(tmp_path) == []

    check = _run(["check"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "FAIL" not in check.stdout
    assert check.stdout.count("PASS") == 7, check.stdout
    assert not (tmp_path / "power-cut.pending").exists()
    assert _running_on(tmp_path) == []


def test_a_failed_wait_stops_the_recorder(tmp_path):
    """The wait for stored frames fails (a 0 s deadline): the script exits 1 with one line and no recorder left.

    Before the fix, the script died here ("no progress line") with the recorder still recording.
    Looked at before `spawned` kills the script's process group, which would hide an orphan.
    """
    with spawned(["bash", str(SCRIPT), "cut", "--yes-cut-power", "0"], env=_env(tmp_path, AGMA_ACCEPT_START_S="0"),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as script:
        _, err = script.communicate(timeout=DEADLINE_S)
        assert _running_on(tmp_path) == []  # the recorder it had started is gone with it
    assert script.returncode == 1
    assert err.strip().splitlines()[-1].startswith("acceptance-power-cut: no frame reported stored within 0 s")
    assert not (tmp_path / "power-cut.pending").exists()  # nothing claims a cut happened


def _frames_in(folder) -> int:
    for db in folder.glob("power-cut-*.sqlite"):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
                return c.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
        except sqlite3.OperationalError:  # not created yet
            pass
    return 0


def test_a_terminated_script_stops_the_recorder(tmp_path):
    """SIGTERM to the script mid-recording (a deadline, an operator): its recorder ends too, cleanly."""
    with spawned(["bash", str(SCRIPT), "cut", "--yes-cut-power", "600"], env=_env(tmp_path),
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as script:
        wait_until(lambda: _frames_in(tmp_path) > 0, "frames stored by the script's recorder", proc=script)
        script.send_signal(signal.SIGTERM)
        code = script.wait(timeout=DEADLINE_S)
        assert _running_on(tmp_path) == []  # gone before the script itself ended
        assert code == 143  # its TERM trap: exit 143 after stopping the recorder
    (db,) = tmp_path.glob("power-cut-*.sqlite")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("SELECT end_reason FROM sessions").fetchall() == [("shutdown",)]
