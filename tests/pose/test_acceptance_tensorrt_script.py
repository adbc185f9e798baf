"""scripts/acceptance-tensorrt.sh, the box's TensorRT acceptance, refuses cleanly where it cannot run.

Its steps need TensorRT and a GPU, which no machine of this project has, so what runs here is
its front door: a wrong command line, a missing file and a machine without the `tensorrt`
module each end the script at once with exit status 2 or 1 and ONE line on stderr, naming the
problem and its fix, before anything is exported, built or recorded (nothing is written to the
output folder). A box missing JetPack's python3-libnvinfer gets that line, not a traceback or
a half-printed table. The script's whole flow (export, build, info, verify, session, bench) is
the box's to run (engines/RECIPE.md).

The script sets up its environment with scripts/env.sh, as every script does; it is run here
only from the environment scripts/test.sh made (its install stamp current), so that set-up
installs and prints nothing.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, clean_env, run

SCRIPT = REPO / "scripts" / "acceptance-tensorrt.sh"


def _env(tmp_path) -> dict:
    """No AGMA_* from outside except the interpreter choice; this environment's bin first on PATH."""
    keep = {"AGMA_PYTHON": os.environ["AGMA_PYTHON"]} if os.environ.get("AGMA_PYTHON") else {}
    return clean_env({**keep, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}",
                      "AGMA_TRT_OUT": str(tmp_path / "out")})


@pytest.fixture
def env(tmp_path) -> dict:
    env = _env(tmp_path)
    ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    expected = run(["bash", "-c", f"source scripts/env.sh; agma_venv_dir {ver}"], env=env).stdout.strip()
    stamp = Path(expected) / ".agma-installed"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if Path(sys.prefix).resolve() != Path(expected).resolve() or not stamp.is_file() \
            or stamp.read_text().strip() != want:
        pytest.skip(f"not run from the current environment scripts/test.sh makes ({expected}); test.sh runs it")
    return env


def _script(env, *args: str) -> subprocess.CompletedProcess:
    return run(["bash", str(SCRIPT), *args], env=env, timeout=300)


def _one_line(proc: subprocess.CompletedProcess) -> str:
    lines = proc.stderr.splitlines()
    assert proc.stdout == "" and len(lines) == 1, (proc.stdout, proc.stderr)
    assert lines[0].startswith("acceptance-tensorrt: ")
    return lines[0]


def test_without_tensorrt_one_line_and_nothing_written(env, tmp_path, fixtures_dir):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt is installed here: the script would run for real")
    system = Path("/usr/bin/python3")
    if system.exists() and subprocess.run([str(system), "-c", "import tensorrt"], capture_output=True).returncode == 0:
        pytest.skip("the system's python3 has tensorrt: the script names the venv instead")
    proc = _script(env, str(fixtures_dir / "hrnet_w4_zip.pth"))
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "TensorRT is not installed here" in line and "python3-libnvinfer" in line
    assert "--system-site-packages" in line
    assert list((tmp_path / "out").iterdir()) == []  # no ONNX export, no engine: it stopped first


def test_bad_command_lines_one_line_each(env, tmp_path, fixtures_dir):
    usage = _script(env)
    assert usage.returncode == 2 and "usage:" in _one_line(usage)
    too_many = _script(env, "a", "b", "c")
    assert too_many.returncode == 2 and "usage:" in _one_line(too_many)
    missing = _script(env, str(tmp_path / "nope.pth"))
    assert missing.returncode == 1 and f"{tmp_path / 'nope.pth'}: no such checkpoint or ONNX file" in _one_line(missing)
    no_frames = _script(env, str(fixtures_dir / "hrnet_w4_zip.pth"), str(tmp_path / "no-frames"))
    assert no_frames.returncode == 1 and "no such replay folder" in _one_line(no_frames)
