"""Shared test fixtures: the reference outputs in ../shared/fixtures (beside the clone, as CI has it).

Hypothesis runs without its wall-clock limits (a 200 ms deadline per example, the "too slow"
health check): on a busy machine they fail tests whose code is right. Speed is `agma bench`'s.

And one session-wide rule: a test run leaves nothing running. When the session finishes, every
process this run started that is still alive (see :func:`_leftovers`) is named, killed, and the
run fails: an orphaned recorder would otherwise keep writing for up to store.max_session_s.
"""
from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures"

#: Set in this process's environment, so inherited by everything a test starts (the helpers strip
#: only AGMA_* variables). Not AGMA_-prefixed on purpose.
SESSION_MARK = "TESTS_AGMA_PYTEST_SESSION"
#: How long the check lets a process that is already dying (SIGKILLed, exiting) finish going.
LEFTOVER_GRACE_S = 10.0


settings.register_profile("agma", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("agma")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.fail(f"{SHARED_FIXTURES} is missing: clone the project with shared/ beside it")
    return SHARED_FIXTURES


#: pyproject's filterwarnings makes a RuntimeWarning fail a test in this process; the processes a
#: test starts (`agma` subprocesses, scripts) inherit the same rule through the environment.
CHILD_WARNINGS = "error::RuntimeWarning"


def pytest_configure(config) -> None:
    os.environ[SESSION_MARK] = f"{os.getpid()}-{uuid.uuid4().hex}"
    inherited = os.environ.get("PYTHONWARNINGS", "")  # later entries win: ours last
    os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (inherited, CHILD_WARNINGS)))


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # gone meanwhile, or not ours to read
        return b""


def _processes() -> dict[int, tuple[int, str, bytes]]:
    """pid -> (parent pid, state letter, command line) of every process visible in /proc."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        stat = _read(f"/proc/{name}/stat").decode(errors="replace")
        if not stat:
            continue
        # "pid (comm) S ppid ...": comm may hold spaces and parentheses, so split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        table[int(name)] = (int(fields[1]), fields[0], _read(f"/proc/{name}/cmdline"))
    return table


def _leftovers(basetemp: str | None) -> dict[int, str]:
    """pid -> command line of the live processes this test run started, other than pytest itself.

    A process counts as this run's when any of these holds:
      - it descends from this pytest process (a child not waited for, or its children);
      - its environment holds this session's SESSION_MARK (an orphan re-parented to init after a
        test killed only its parent: a script's recorder, a `sh -c 'cmd &'`);
      - its command line names this session's temporary folder (a test's tmp_path: an orphan
        started with an environment of its own).
    Not by the repository's path alone: other work (a developer's `agma record`, another pytest
    run in the same checkout) may be running from it and is not this run's to judge. Zombies
    (state Z/X) are dead already, waiting only to be reaped, and do not count; nor does pytest's
    own ancestry (the shell that started it may name the checkout).
    """
    me = os.getpid()
    table = _processes()
    ancestors = set()
    pid = me
    while pid in table and pid not in ancestors:
        ancestors.add(pid)
        pid = table[pid][0]
    mark = f"{SESSION_MARK}={os.environ.get(SESSION_MARK, '')}".encode()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    descendants, todo = set(), list(children.get(me, ()))
    while todo:
        pid = todo.pop()
        if pid not in descendants:
            descendants.add(pid)
            todo.extend(children.get(pid, ()))
    found = {}
    for pid, (_, state, cmdline) in table.items():
        if pid in ancestors or state in ("Z", "X", "x") or not cmdline:  # no cmdline: a kernel thread
            continue
        ours = (pid in descendants
                or (basetemp and (basetemp.rstrip("/") + "/").encode() in cmdline)
                or mark in _read(f"/proc/{pid}/environ").split(b"\0"))
        if ours:
            found[pid] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = getattr(factory, "_basetemp", None)  # None when no test asked for a tmp_path
    basetemp = os.fspath(basetemp) if basetemp else None
    deadline = time.monotonic() + LEFTOVER_GRACE_S
    left = _leftovers(basetemp)
    while left and time.monotonic() < deadline:  # give a process that is exiting right now its moment
        time.sleep(0.2)
        left = _leftovers(basetemp)
    if not left:
        return
    lines = [f"pid {pid}: {cmd[:300]}" for pid, cmd in sorted(left.items())]
    for pid in left:  # leave nothing running, even when failing
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    title = (f"{len(left)} process(es) started by this test run were still running at its end "
             f"(killed now); every test must stop what it starts (tests/helpers.py: spawned, start_agma)")
    if reporter is not None:
        reporter.write_sep("!", "processes left running", red=True)
        reporter.write_line(title, red=True)
        for line in lines:
            reporter.write_line("  " + line)
    else:
        print(title, *lines, sep="\n  ")
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
