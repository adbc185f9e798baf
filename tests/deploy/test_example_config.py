"""systemd/agma.toml.example and agma.env.example: what install.sh copies to /etc/agma is valid,
and is the box's configuration.

Why: install.sh installs them once and runs `agma config check`; an example that fails the check
stops every install, and one that names another database than the unit's state directory makes
`agma status` in a shell miss the daemon's socket. Checked with the real loader (`agma --config
FILE config show --json`), the env file with every example line switched on, each of its names
a documented variable.
"""
from __future__ import annotations

import json
import re

from appliance import config
from tests.deploy.tools import UNIT, unit_settings
from tests.helpers import REPO, agma

EXAMPLE = REPO / "systemd" / "agma.toml.example"
ENV_EXAMPLE = REPO / "systemd" / "agma.env.example"


def _show(env: dict | None = None) -> dict:
    proc = agma("--config", str(EXAMPLE), "config", "show", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_example_is_the_box():
    values = _show()["values"]
    state = unit_settings(UNIT.read_text(encoding="utf-8"))["StateDirectory"][0]
    assert values["store"]["db"] == f"/var/lib/{state}/agma.sqlite"
    assert values["capture"]["source"] == "zed" and values["button"]["enabled"] is True
    assert values["pose"]["model"] == f"trt:/var/lib/{state}/models/darkpose32.engine"
    # install.sh replaces this line with the host name
    assert re.search(r'^id = "box-1"$', EXAMPLE.read_text(encoding="utf-8"), re.M)


def test_every_env_example_line_is_a_documented_variable_and_loads():
    lines = [line[1:] for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
             if re.match(r"#[A-Z][A-Z0-9_]*=", line)]
    assert len(lines) >= 5
    env = dict(line.split("=", 1) for line in lines)
    known = {config.env_var(k.path) for k in config.KEYS} | {name for name, _ in config.OTHER_ENV_VARS} | {config.ENV_CONFIG}
    assert set(env) - known == set()
    del env[config.ENV_CONFIG]  # --config is given
    shown = _show(env)
    assert shown["values"]["mqtt"]["enabled"] is True and shown["values"]["box"]["bed_label"] == "Warmer 2"
    assert shown["origins"]["mqtt.host"].startswith("environment")
