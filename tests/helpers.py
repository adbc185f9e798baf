"""Helpers shared by tests: run `agma` in a subprocess exactly as a user does, and never leave one behind.

Every process a test starts goes through :func:`spawned` (or :func:`run` / :func:`agma` /
:func:`start_agma`, built on it): it starts in a new session, so it leads its own process group,
and on every way out of the ``with`` block (a pass, a failed assertion, a timeout, Ctrl-C) the
whole group is SIGKILLed and the leader reaped. A child that starts children of its own (a shell
script starting a recorder) cannot leave an orphan that way. tests/conftest.py fails the suite if
anything is left running anyway.

Waits are for a state (a line, a row), never for a fixed time: :data:`DEADLINE_S` is how long a
test waits before it calls the state missing. It is generous on purpose: CI is a busy 2-core
machine, and a machine ten times slower than the development one must still pass.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AGMA = (sys.executable, "-m", "appliance")  # `agma`, run by the interpreter running the tests

#: How long a test waits for a state it needs (a line, a row, an exit) before failing.
DEADLINE_S = 120.0
#: The longest a whole `agma` command may run before the test calls it hung (a hang guard, not a bound).
RUN_TIMEOUT_S = 600.0


def clean_env(extra: dict | None = None) -> dict:
    """os.environ without AGMA_* (so /etc or the caller's env cannot leak in), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
    env.update(extra or {})
    return env


def stop_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to ``proc``'s whole process group (started by :func:`spawned`), then reap the leader.

    SIGKILL by default: no handler can delay it, and the kernel ends the processes at once. The
    group may outlive its leader (a grandchild), so the group is signalled even when the leader
    has already exited.
    """
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:  # the group is gone: nothing left running
        pass
    except PermissionError:  # a leader already reaped and its pid reused by someone else: not ours
        pass
    try:
        proc.wait(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"pid {proc.pid} ({' '.join(map(str, proc.args))}) survived SIGKILL "
                             f"for {DEADLINE_S:.0f} s") from None


@contextlib.contextmanager
def spawned(cmd, **popen_kw) -> Iterator[subprocess.Popen]:
    """``subprocess.Popen(cmd)`` in its own process group; the group is killed and reaped on leaving.

    cwd defaults to the repository, stdin to /dev/null. Pipes the caller asked for are closed
    after the process is reaped (read them inside the block, e.g. with ``communicate``).
    """
    popen_kw.setdefault("cwd", REPO)
    popen_kw.setdefault("stdin", subprocess.DEVNULL)
    proc = subprocess.Popen(cmd, start_new_session=True, **popen_kw)
    try:
        yield proc
    finally:
        stop_group(proc)
        for f in (proc.stdin, proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def run(cmd, *, env: dict | None = None, timeout: float = RUN_TIMEOUT_S, cwd=None,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Like ``subprocess.run(cmd, capture_output=True, text=True)``, but the whole process group dies with it.

    ``subprocess.run`` kills only its direct child on a timeout; a grandchild (the recorder a
    script started) would keep running. Raises subprocess.TimeoutExpired after ``timeout`` s.
    """
    kw = {"stdin": subprocess.PIPE} if input is not None else {}
    with spawned(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", env=env,
                 cwd=cwd or REPO, **kw) as proc:
        out, err = proc.communicate(input=input, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def agma(*args: str, env: dict | None = None, timeout: float = RUN_TIMEOUT_S, check: bool = False
         ) -> subprocess.CompletedProcess:
    """`python -m appliance ARGS` to its end, with a clean AGMA_* environment (:func:`clean_env`)."""
    proc = run([*AGMA, *args], env=clean_env(env), timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"agma {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


@contextlib.contextmanager
def start_agma(*args: str, env: dict | None = None, **popen_kw) -> Iterator[subprocess.Popen]:
    """A running `python -m appliance ARGS` (stdout and stderr piped, text) for the ``with`` block.

    Signal it, read it, ``communicate()`` with it inside the block; whatever is still running of
    it when the block is left, however it is left, is SIGKILLed.
    """
    kw = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "encoding": "utf-8"}
    kw.update(popen_kw)
    with spawned([*AGMA, *args], env=clean_env(env), **kw) as proc:
        yield proc


class Lines:
    """The lines of a text stream (a child's stderr), read in a thread as they come."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._eof = False
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        try:
            for line in stream:
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        except ValueError:  # the stream was closed under us: the process is gone
            pass
        finally:
            with self._changed:
                self._eof = True
                self._changed.notify_all()

    def wait_for(self, match: Callable[[str], object], timeout: float = DEADLINE_S):
        """The first truthy ``match(line)`` over the lines so far and to come; None at EOF or after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    hit = match(line)
                    if hit:
                        return hit
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    return None
                self._changed.wait(left)

    def join(self, timeout: float = DEADLINE_S) -> str:
        """Wait for EOF (the process ended); all the text read."""
        self._thread.join(timeout)
        return "".join(self.lines)

    def text(self) -> str:
        with self._changed:
            return "".join(self.lines)


def wait_until(check: Callable[[], object], what: str, timeout: float = DEADLINE_S, every_s: float = 0.1,
               proc: subprocess.Popen | None = None):
    """Poll ``check()`` until it returns something truthy (returned); AssertionError naming ``what`` after
    ``timeout`` s, or as soon as ``proc`` (the process expected to bring that state about) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process exited ({proc.returncode}) first")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout:.0f} s")
        time.sleep(every_s)


def last_json(proc: subprocess.CompletedProcess):
    """The JSON document on the last line of stdout (the --json contract)."""
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no stdout; stderr:\n{proc.stderr}"
    return json.loads(lines[-1])
