"""The box's power-cut acceptance script runs both its phases here, with SIGKILL standing in for the cut.

The real cut (`echo b > /proc/sysrq-trigger`) can only run on the box; what can run here is
everything around it: recording, noting the reported count durably, the check phase's integrity,
reported-frames and loss-bound checks, and the next recorder's recovery. A script nobody ran
would fail on the box for a typo.
"""
from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers import REPO

SCRIPT = REPO / "scripts" / "acceptance-power-cut.sh"


def _run(args, env, timeout=60):
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=REPO)


def test_cut_then_check_with_sigkill_for_the_cut(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
    env.update({"AGMA": f"{sys.executable} -m appliance", "AGMA_ACCEPT_DIR": str(tmp_path),
                "AGMA_ACCEPT_ARGS": "--source synthetic", "AGMA_ACCEPT_CUT": "kill -9 $RECORD_PID",
                "AGMA_ACCEPT_PYTHON": sys.executable})
    refused = _run(["cut", "2"], env)
    assert refused.returncode == 1 and "--yes-cut-power" in refused.stderr

    cut = _run(["cut", "--yes-cut-power", "2"], env)
    assert cut.returncode == 0, cut.stderr
    assert "cutting power now" in cut.stdout
    assert (tmp_path / "power-cut.pending").exists()

    check = _run(["check"], env)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "FAIL" not in check.stdout
    assert check.stdout.count("PASS") == 7, check.stdout
    assert not (tmp_path / "power-cut.pending").exists()
