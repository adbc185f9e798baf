"""`agma status|start|stop` with no daemon running: one line saying so, exit 1, and the --json error line.

Why: a container health check and a monitoring script call `agma status`; "not running" must be
a clear failure, never a traceback or a hang.
"""
from __future__ import annotations

from tests.helpers import agma, last_json


def test_no_daemon(tmp_path):
    env = {"AGMA_STORE__DB": str(tmp_path / "box.sqlite")}
    for cmd in ("status", "start", "stop"):
        p = agma(cmd, env=env)
        assert p.returncode == 1, (cmd, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and "not running" in lines[0] and "Traceback" not in p.stderr, p.stderr
        pj = agma(cmd, "--json", env=env)
        assert pj.returncode == 1 and last_json(pj)["ok"] is False
