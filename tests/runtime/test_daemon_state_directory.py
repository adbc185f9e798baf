"""Under systemd ($STATE_DIRECTORY) the database, its dumps and the control socket default there.

Why: the service runs as its own user with `StateDirectory=agma`; with the user-data default the
database would land in that user's home (`~/.local/share/agma`), which a service user may not
have, and which nobody backs up or looks at. systemd creates the state directory and names it
in $STATE_DIRECTORY (a colon-separated list: the first is ours). An explicit `store.db` still
wins. The daemon here runs with no store.db at all, a HOME and XDG_DATA_HOME of its own to show
that nothing lands there, and records one session whose dump appears in the state directory.
"""
from __future__ import annotations

from appliance import config
from appliance.runtime.factories import socket_path
from appliance.store.dump import pending_dump_dir
from tests.helpers import wait_until

from .daemon_env import ctl, daemon_env, running_daemon, session_rows, status, stop_daemon


def test_defaults_follow_state_directory(tmp_path):
    state = tmp_path / "state"
    cfg = config.load(None, {}, environ={"STATE_DIRECTORY": f"{state}:{tmp_path / 'second'}"})
    assert cfg.db_path == state / "agma.sqlite" and "STATE_DIRECTORY" in cfg.origins["store.db"]
    assert socket_path(cfg) == state / "agma.sock" and pending_dump_dir(cfg) == state / "dumps"
    explicit = config.load(None, {}, environ={"STATE_DIRECTORY": str(state), "AGMA_STORE__DB": str(tmp_path / "x.sqlite")})
    assert explicit.db_path == tmp_path / "x.sqlite"
    assert config.load(None, {}, environ={"STATE_DIRECTORY": ""}).db_path == config.default_data_dir() / "agma.sqlite"


def test_daemon_keeps_its_files_in_the_state_directory(tmp_path):
    state, home = tmp_path / "state", tmp_path / "home"
    state.mkdir()
    home.mkdir()
    env = daemon_env(tmp_path, STATE_DIRECTORY=str(state), HOME=str(home), XDG_DATA_HOME=str(home / ".local/share"))
    del env["AGMA_STORE__DB"], env["AGMA_STORE__DUMP_DIR"]
    with running_daemon(env) as proc:
        assert (state / "agma.sock").exists() and (state / "agma.sqlite").exists()
        code, started = ctl(env, "start")
        assert code == 0, started
        wait_until(lambda: status(env)["frames"] >= 5, "frames committed", proc=proc)
        code, _ = ctl(env, "stop")
        assert code == 0
        dump = state / "dumps" / f"{started['session_id']}.sqlite"
        wait_until(lambda: dump.with_name(dump.name + ".sha256").exists(), "the session's dump", proc=proc)
        assert stop_daemon(proc) == 0, proc.log.text()
    [row] = session_rows(state / "agma.sqlite")
    assert row["uid"] == started["session_id"] and row["end_reason"] == "stopped"
    assert list(home.rglob("*")) == [], "the daemon wrote into the service user's home"
