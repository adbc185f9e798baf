"""scripts/install.sh installs the box from a wheelhouse, refuses in one line what it cannot do, and
a second run changes nothing.

Why: IT runs it on every box, offline, and again on every upgrade; a step that rewrites a file it
did not need to (a new mtime on the unit, a reinstalled venv, an overwritten agma.toml) restarts
nothing by itself but hides what really changed, and one that loses IT's edits is a defect.

How, without touching this machine: AGMA_INSTALL_ROOT puts every file under a staging root
(users go to its /etc/passwd through the real systemd-sysusers --root, the unit is enabled there
with the real systemctl --root). The wheelhouse is a real one, made by `scripts/wheelhouse.sh
--here` for this machine's platform and Python (pip's cache makes that quick; it is the only
test here that needs the package index, as scripts/test.sh itself does). The venv, the pip
install from the wheelhouse only, `agma config check` of the installed configuration and the CUDA
decoder's compilation (sm 8.7 with the test extra's NVRTC: AGMA_INSTALL_SM, AGMA_NVRTC) all
really run. Then: a second run leaves every path of the tree as it was (type, mode, owner, size,
mtime, contents) and says `unchanged` for each step, and `systemd-analyze verify` is silent on
the installed unit with the installed agma at its ExecStart. `agma doctor` is not run in a
staging root (it checks this machine's devices and service).

The refusals: not root (run as `nobody` when the tests run as root), no wheelhouse, a folder
without agma's wheel, a wheelhouse made for another machine, a usage error: each exits non-zero
with one line on stderr and leaves no staging root behind. The real install (as root, without
AGMA_INSTALL_ROOT) is never run here.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import stat
import sys
from pathlib import Path

import pytest

from tests.deploy.tools import SYSTEM_UNITS, readable_by_anyone, systemd_tool
from tests.helpers import REPO, clean_env, run

SCRIPT = REPO / "scripts" / "install.sh"
WHEELHOUSE_SCRIPT = REPO / "scripts" / "wheelhouse.sh"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def _env(**extra: str) -> dict:
    keep = {"AGMA_PYTHON": os.environ["AGMA_PYTHON"]} if os.environ.get("AGMA_PYTHON") else {}
    return clean_env({**keep, "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ['PATH']}", **extra})


def _install(*args: str, env: dict, as_nobody: bool = False):
    if not as_nobody:
        return run(["bash", str(SCRIPT), *args], env=env, timeout=600)
    with readable_by_anyone(SCRIPT) as script:
        return run([*NOBODY, "bash", str(script), *args], env=env, timeout=600)


def _one_line(proc) -> str:
    lines = proc.stderr.splitlines()
    assert proc.stdout == "" and len(lines) == 1, (proc.stdout, proc.stderr)
    assert lines[0].startswith("install: ")
    return lines[0]


# -- refusals ------------------------------------------------------------------------------------------

def test_not_root_is_refused():
    as_nobody = os.geteuid() == 0
    if as_nobody and shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is missing: apt-get install util-linux")
    proc = _install(env=_env(), as_nobody=as_nobody)
    assert proc.returncode == 1
    assert "install: run it as root: sudo " in _one_line(proc)


def test_no_wheelhouse(tmp_path):
    root = tmp_path / "root"
    proc = _install(str(tmp_path / "nowhere"), env=_env(AGMA_INSTALL_ROOT=str(root)))
    assert proc.returncode == 1
    line = _one_line(proc)
    assert f"no wheelhouse at {tmp_path / 'nowhere'}" in line and "scripts/wheelhouse.sh" in line
    assert not root.exists()


def test_a_folder_without_agmas_wheel(tmp_path):
    (tmp_path / "wh").mkdir()
    (tmp_path / "wh" / "numpy-1.26.4-cp310-cp310-manylinux2014_aarch64.whl").write_bytes(b"")
    proc = _install(str(tmp_path / "wh"), env=_env(AGMA_INSTALL_ROOT=str(tmp_path / "root")))
    assert proc.returncode == 1 and "holds no agma_appliance wheel" in _one_line(proc)
    assert not (tmp_path / "root").exists()


def test_a_wheelhouse_for_another_machine(tmp_path):
    wh = tmp_path / "wh"
    wh.mkdir()
    (wh / "agma_appliance-0.1.0-py3-none-any.whl").write_bytes(b"")
    other = "riscv64" if platform.machine() == "aarch64" else "aarch64"
    (wh / "wheelhouse.json").write_text(json.dumps({"machine": other, "python": "3.10"}), encoding="utf-8")
    proc = _install(str(wh), env=_env(AGMA_INSTALL_ROOT=str(tmp_path / "root")))
    assert proc.returncode == 1
    line = _one_line(proc)
    assert "does not fit this machine" in line and f"built for {other} Python 3.10" in line
    assert not (tmp_path / "root").exists()


def test_usage():
    proc = _install("a", "b", env=_env(AGMA_INSTALL_ROOT="/nonexistent-staging-root"))
    assert proc.returncode == 2 and "usage:" in _one_line(proc)
    assert not Path("/nonexistent-staging-root").exists()


# -- a staged install, twice -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory) -> Path:
    """A real wheelhouse for this machine (scripts/wheelhouse.sh --here), from the environment
    scripts/test.sh made (so its set-up installs nothing)."""
    env = _env()
    ver = f"{sys.version_info[0]}.{sys.version_info[1]}"
    expected = run(["bash", "-c", f"source scripts/env.sh; agma_venv_dir {ver}"], env=env).stdout.strip()
    stamp = Path(expected) / ".agma-installed"
    want = hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    if Path(sys.prefix).resolve() != Path(expected).resolve() or not stamp.is_file() \
            or stamp.read_text().strip() != want:
        pytest.skip(f"not run from the current environment scripts/test.sh makes ({expected}); test.sh runs it")
    out = tmp_path_factory.mktemp("wheelhouse") / "wh"
    proc = run(["bash", str(WHEELHOUSE_SCRIPT), "--here", "-o", str(out)], env=env, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(out)
    return out


def _nvrtc() -> str:
    found = sorted(Path(sys.prefix).glob("lib/python3*/site-packages/nvidia/cuda_nvrtc/lib/libnvrtc.so*"))
    if not found:
        pytest.fail(f"no NVRTC wheel in {sys.prefix}: install the test extra (nvidia-cuda-nvrtc-cu12)")
    return str(found[0])


def _tree(root: Path) -> dict:
    """Every path under root: type, mode, owner, size, mtime (ns), link target, and a file's sha256."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            entry = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns)
            if stat.S_ISLNK(st.st_mode):
                entry += (os.readlink(p),)
            elif stat.S_ISREG(st.st_mode):
                entry += (hashlib.sha256(p.read_bytes()).hexdigest(),)
            out[str(p.relative_to(root))] = entry
    return out


@pytest.fixture(scope="module")
def staged(wheelhouse, tmp_path_factory):
    root = tmp_path_factory.mktemp("staged") / "root"
    python = getattr(sys, "_base_executable", None) or sys.executable
    env = _env(AGMA_INSTALL_ROOT=str(root), AGMA_INSTALL_PYTHON=python, AGMA_INSTALL_SM="87", AGMA_NVRTC=_nvrtc())
    first = _install(str(wheelhouse), env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    tree = _tree(root)
    second = _install(str(wheelhouse), env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    return root, first, second, tree, _tree(root)


def test_second_run_changes_nothing(staged):
    root, first, second, before, after = staged
    assert len(before) > 1000  # a venv's worth of files: the comparison below is not of an empty tree
    changed = {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)}
    assert changed == set()
    said = [line.split(": ", 1)[1] for line in second.stdout.splitlines()]
    quiet = ("unchanged", "kept as it is", "configuration ok", "agma doctor: not run", "done (staging root")
    assert [s for s in said if not any(q in s for q in quiet)] == [], second.stdout
    assert "installed" in first.stdout and "compiled: sm_87" in first.stdout


def test_the_user_the_unit_and_the_config_are_in_place(staged):
    root = staged[0]
    users = {f[0]: f for f in (line.split(":") for line in (root / "etc/passwd").read_text().splitlines())}
    assert users["agma"][5:] == ["/var/lib/agma", "/usr/sbin/nologin"]
    wants = root / "etc/systemd/system/multi-user.target.wants/agma.service"
    assert os.readlink(wants) == "/etc/systemd/system/agma.service"
    assert (root / "etc/systemd/system/agma.service").read_bytes() == (REPO / "systemd/agma.service").read_bytes()
    env_file = root / "etc/agma/agma.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o640
    for folder in ("var/lib/agma", "var/lib/agma/models", "var/cache/agma"):
        st = (root / folder).stat()
        assert stat.S_IMODE(st.st_mode) == 0o750
        if os.geteuid() == 0:
            assert st.st_uid == int(users["agma"][2]), folder
    # the installed agma reads the installed configuration
    agma = root / "opt/agma/venv/bin/agma"
    proc = run([str(agma), "--config", str(root / "etc/agma/agma.toml"), "config", "show", "--json"],
               env=clean_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    values = json.loads(proc.stdout.strip().splitlines()[-1])["values"]
    assert values["capture"]["source"] == "zed" and values["pose"]["model"].startswith("trt:")
    assert values["store"]["db"] == "/var/lib/agma/agma.sqlite"
    host = run(["hostname", "-s"]).stdout.strip()
    assert values["box"]["id"] == (host if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", host) else "box-1")


def test_the_decoder_is_compiled_for_sm87(staged):
    cubins = sorted((staged[0] / "var/cache/agma/cuda").glob("*sm_87*.cubin"))
    assert len(cubins) == 1 and cubins[0].read_bytes()[:4] == b"\x7fELF"


def test_systemd_analyze_verify_on_the_installed_tree(staged, tmp_path):
    """The installed unit with the installed agma at its ExecStart: a copy of the staged root plus
    the system's units (the staged tree itself stays as the install left it)."""
    root = tmp_path / "root"
    shutil.copytree(staged[0] / "etc", root / "etc", symlinks=True)
    (root / "opt/agma/venv/bin").mkdir(parents=True)
    shutil.copy2(staged[0] / "opt/agma/venv/bin/agma", root / "opt/agma/venv/bin/agma")
    if SYSTEM_UNITS is None:
        pytest.skip("no /usr/lib/systemd/system on this machine")
    shutil.copytree(SYSTEM_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    proc = run([systemd_tool("systemd-analyze"), "verify", f"--root={root}", "agma.service"], timeout=120)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
