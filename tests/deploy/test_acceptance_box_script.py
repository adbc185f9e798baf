"""scripts/acceptance-box.sh, the installed box's acceptance, refuses cleanly where it cannot run.

Its steps drive the real agma.service (systemctl, SIGKILL of its main process, the camera), which
only an installed box has, so what runs here is its front door: a wrong command line, not root,
a missing ONNX model, no installed agma, no running systemd: each ends the script at once with
exit status 2 or 1 and ONE line on stderr naming the problem and its fix, before it stops,
starts or records anything (no table is printed: nothing ran). The checks come in that order,
so each can be reached here: the model and the venv are given (any file, this test run's own
environment) to get past them.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import readable_by_anyone
from tests.helpers import REPO, clean_env, run

SCRIPT = REPO / "scripts" / "acceptance-box.sh"


def _script(*args: str, as_nobody: bool = False, **env: str):
    if not as_nobody:
        return run(["bash", str(SCRIPT), *args], env=clean_env(env), timeout=120)
    with readable_by_anyone(SCRIPT) as script:
        return run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(script), *args],
                   env=clean_env(env), timeout=120)


def _one_line(proc) -> str:
    lines = proc.stderr.splitlines()
    assert proc.stdout == "" and len(lines) == 1, (proc.stdout, proc.stderr)
    assert lines[0].startswith("acceptance-box: ")
    return lines[0]


def _root_only():
    if os.geteuid() != 0:
        pytest.skip("these refusals come after the root check: run as root (CI is)")


def test_usage():
    proc = _script("a.onnx", "b")
    assert proc.returncode == 2 and "usage:" in _one_line(proc)


def test_not_root():
    as_nobody = os.geteuid() == 0
    if as_nobody and shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is missing: apt-get install util-linux")
    proc = _script(as_nobody=as_nobody)
    assert proc.returncode == 1 and "acceptance-box: run it as root: sudo " in _one_line(proc)


def test_no_model(tmp_path):
    _root_only()
    proc = _script(str(tmp_path / "none.onnx"))
    assert proc.returncode == 1
    line = _one_line(proc)
    assert f"{tmp_path / 'none.onnx'}: no such ONNX model" in line and "engines/RECIPE.md" in line


def test_no_installed_agma(tmp_path):
    _root_only()
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    proc = _script(str(model), AGMA_BOX_VENV=str(tmp_path / "venv"))
    assert proc.returncode == 1
    assert f"no agma in {tmp_path / 'venv'}: install the box first (sudo scripts/install.sh" in _one_line(proc)


def test_no_systemd(tmp_path):
    _root_only()
    if Path("/run/systemd/system").is_dir():
        pytest.skip("systemd runs this machine: the script would go on to the installed unit")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"")
    proc = _script(str(model), AGMA_BOX_VENV=sys.prefix)
    assert proc.returncode == 1
    assert "systemd is not running here: this acceptance drives the installed agma.service" in _one_line(proc)
