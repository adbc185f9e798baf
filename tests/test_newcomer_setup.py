"""A newcomer's first hour: one environment folder, named by the README, installed once and quietly.

Wave 1 made `.venv-<version>` (a name that depends on the machine), nothing said how to put
`agma` on PATH (`agma: command not found` after the demo), and alternating demo.sh and test.sh
reinstalled the package every time with a page of setuptools warnings.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO, run

ACTIVATE = ". .venv/bin/activate"
EXPORT = "export PATH=$PWD/.venv/bin:$PATH"


def _bash(script: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k != "AGMA_PYTHON"}
    base.update(env)
    return run(["bash", "-c", f"source scripts/env.sh; {script}"], cwd=REPO, env=base, timeout=600)


def test_one_folder_name_for_the_default_python():
    ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert _bash(f"agma_venv_dir {ver}").stdout.strip() == str(REPO / ".venv")
    assert _bash("agma_venv_dir 3.10", AGMA_PYTHON="python3.10").stdout.strip() == str(REPO / ".venv-3.10")


def test_readme_and_usage_say_how_to_get_agma_on_path():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert ACTIVATE in readme and EXPORT in readme and "agma sessions --db var/demo.sqlite" in readme
    usage = (REPO / "docs" / "usage.md").read_text(encoding="utf-8")
    first = usage.split("\n## ", 2)[1]  # the first section of usage.md
    assert first.startswith("First: get `agma` on your PATH")
    assert ACTIVATE in first and EXPORT in first and "agma sessions --db var/demo.sqlite" in first


def test_alternating_demo_and_test_setups_install_nothing():
    """Run from the environment scripts/test.sh made: its stamps say everything is installed."""
    venv = Path(sys.prefix)
    named = os.environ.get("AGMA_PYTHON")
    ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    expected = _bash(f"agma_venv_dir {ver}", **({"AGMA_PYTHON": named} if named else {})).stdout.strip()
    if str(venv) != expected or not (venv / ".agma-extra-test").is_file():
        pytest.skip(f"not run from the environment scripts/test.sh makes ({expected}); test.sh runs it")
    proc = _bash("agma_env; agma_env test; agma_env; command -v agma", **({"AGMA_PYTHON": named} if named else {}))
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr  # nothing installed, nothing printed
    assert proc.stdout.strip() == str(venv / "bin" / "agma")
