"""Helpers shared by tests: run `agma` in a subprocess exactly as a user does."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def agma(*args: str, env: dict | None = None, timeout: float = 120, check: bool = False) -> subprocess.CompletedProcess:
    """`python -m appliance ARGS` with a clean AGMA_* environment (so /etc or the caller's env cannot leak in)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
    base.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "appliance", *args], capture_output=True, text=True, encoding="utf-8",
                          env=base, timeout=timeout, cwd=REPO)
    if check and proc.returncode != 0:
        raise AssertionError(f"agma {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def last_json(proc: subprocess.CompletedProcess):
    """The JSON document on the last line of stdout (the --json contract)."""
    lines = proc.stdout.strip().splitlines()
    assert lines, f"no stdout; stderr:\n{proc.stderr}"
    return json.loads(lines[-1])
