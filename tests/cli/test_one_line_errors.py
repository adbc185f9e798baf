"""The command line's promise, kept for every way a command can fail: one line, an exit code, and
with --json an `{"ok": false, "error": ...}` document as the last line of stdout.

Wave 1 printed tracebacks when stdout's reader went away (`agma ... | head`) and for any
unforeseen exception, and --json callers got nothing on stdout when a command failed.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.helpers import REPO, agma, last_json


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}


def test_closed_stdout_exits_quietly():
    """stdout's reader is gone before agma writes (what `| head` does mid-output): no traceback, exit 1."""
    for argv in (["config", "docs"], ["db", "docs"], ["db", "schema", "--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will ever read: the first write fails with EPIPE
        try:
            proc = subprocess.run([sys.executable, "-m", "appliance", *argv], stdout=write_end, stderr=subprocess.PIPE,
                                  text=True, env=_clean_env(), cwd=REPO, timeout=120)
        finally:
            os.close(write_end)
        assert proc.returncode == 1 and proc.stderr == "", (argv, proc.stderr)


def test_piped_into_head_prints_what_head_shows():
    """`agma db docs | head -n 2`, made deterministic: head has read its two lines and exited when
    the second agma writes, so that write meets a closed pipe for certain."""
    head = subprocess.Popen(["head", "-n", "2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        argv = [sys.executable, "-m", "appliance", "db", "docs"]
        first = subprocess.run(argv, stdout=head.stdin, stderr=subprocess.PIPE, text=True, env=_clean_env(), cwd=REPO,
                               timeout=120)
        shown = head.stdout.read()
        head.wait(timeout=120)
        second = subprocess.run(argv, stdout=head.stdin, stderr=subprocess.PIPE, text=True, env=_clean_env(), cwd=REPO,
                                timeout=120)
    finally:
        head.stdin.close()
        head.stdout.close()
        if head.poll() is None:
            head.kill()
            head.wait()
    assert shown.decode().splitlines() == ["# The database", ""]
    assert first.returncode in (0, 1) and first.stderr == ""  # 1 if head closed before it finished writing
    assert second.returncode == 1 and second.stderr == "", second.stderr


def test_error_with_json_prints_ok_false_last(tmp_path):
    proc = agma("sessions", "--db", str(tmp_path / "none.sqlite"), "--json")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"agma sessions: no database at {tmp_path / 'none.sqlite'}"]
    doc = last_json(proc)
    assert doc == {"ok": False, "error": f"no database at {tmp_path / 'none.sqlite'}", "command": "sessions", "exit_code": 1}


def test_config_error_with_json(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\nqueue_frames = 0\n")
    proc = agma("--json", "config", "check", "--config", str(bad))
    assert proc.returncode == 78 and len(proc.stderr.strip().splitlines()) == 1
    doc = last_json(proc)
    assert doc["ok"] is False and doc["exit_code"] == 78 and doc["error"].startswith(f"{bad}: store.queue_frames: ")


def test_usage_error_with_json_keeps_argparse_text():
    proc = agma("record", "--duration", "soon", "--json")
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: agma record")
    assert proc.stderr.strip().splitlines()[-1] == "agma record: error: argument --duration: invalid float value: 'soon'"
    doc = last_json(proc)
    assert doc["ok"] is False and doc["exit_code"] == 2 and "--duration" in doc["error"]
    top = agma("no-such-command", "--json")
    assert top.returncode == 2 and last_json(top)["command"] is None


def _run_with_a_bug(*argv: str) -> subprocess.CompletedProcess:
    """agma whose `sessions` handler raises an unforeseen exception (injected: no real input should)."""
    code = ("import sys; from appliance import cli; from appliance.commands import sessions\n"
            "def broken(args): raise ZeroDivisionError('division by zero')\n"
            "sessions.run = broken\n"
            f"sys.exit(cli.main({list(argv)!r}))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(), cwd=REPO,
                          timeout=120)


def test_unexpected_exception_is_one_line_and_exit_1():
    proc = _run_with_a_bug("sessions")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "agma sessions: internal error: ZeroDivisionError: division by zero (run with -v for the traceback)"]
    doc = json.loads(_run_with_a_bug("sessions", "--json").stdout.splitlines()[-1])
    assert doc["ok"] is False and doc["error"].startswith("internal error: ZeroDivisionError")


def test_verbose_adds_the_traceback():
    proc = _run_with_a_bug("sessions", "-v")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Traceback (most recent call last):") and "in broken" in proc.stderr
    assert proc.stderr.splitlines()[-1] == "agma sessions: internal error: ZeroDivisionError: division by zero"
