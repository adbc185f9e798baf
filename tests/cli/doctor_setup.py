"""Test helper: a temporary box for `agma doctor` (config file, state, cache, home, database folder).

Everything doctor may look at lives under one folder: the configuration file it is given, the
state directory ($AGMA_STATE_DIR), the cubin cache ($AGMA_CACHE_DIR), $HOME, and the database's
folder. The base configuration is one on which every check that depends on this setup passes: a
simulated session, MQTT and the button off, and disk thresholds this machine's temporary folder
can meet (the defaults ask for 2 GB free). ``clock`` and ``service`` are this machine's own, so
the callers never assume them.
"""
from __future__ import annotations

import json
from pathlib import Path

from appliance.config import toml_value
from tests.helpers import agma, last_json

#: Checks that read this machine, not the setup: their outcome is not the test's to assume.
MACHINE_CHECKS = frozenset({"clock", "service"})


class DoctorBox:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.state = self.root / "state"
        self.cache = self.root / "cache"
        self.home = self.root / "home"
        self.data = self.root / "data"
        for d in (self.state, self.cache, self.home, self.data):
            d.mkdir(parents=True, exist_ok=True)
        self.db = self.data / "agma.sqlite"
        self.config = self.root / "agma.toml"
        self.values: dict[str, dict] = {
            "box": {"id": "doctor-test"},
            "store": {"db": str(self.db), "min_free_mb": 0.0, "warn_free_mb": 0.0, "max_session_s": 60.0},
        }
        self.extra_env: dict[str, str] = {}
        self.write()

    def set(self, **sections: dict) -> "DoctorBox":
        """Merge {section: {key: value}} into the configuration file."""
        for section, keys in sections.items():
            self.values.setdefault(section, {}).update(keys)
        return self.write()

    def write(self) -> "DoctorBox":
        lines = []
        for section, keys in self.values.items():
            lines.append(f"[{section}]")
            lines += [f"{k} = {toml_value(v)}" for k, v in keys.items()]
            lines.append("")
        self.config.write_text("\n".join(lines), encoding="utf-8")
        return self

    def env(self) -> dict[str, str]:
        env = {"AGMA_STATE_DIR": str(self.state), "AGMA_CACHE_DIR": str(self.cache), "HOME": str(self.home),
               "XDG_CACHE_HOME": str(self.home / ".cache"), "XDG_DATA_HOME": str(self.home / ".local" / "share")}
        env.update(self.extra_env)
        return env

    def doctor(self, *args: str):
        """`agma --config F doctor --json` -> (process, {name: check}); asserts the document's shape."""
        proc = agma("--config", str(self.config), "doctor", "--json", *args, env=self.env())
        assert "Traceback" not in proc.stderr, proc.stderr
        doc = last_json(proc)
        assert set(doc) == {"checks"}, doc
        checks = doc["checks"]
        assert all(set(c) == {"name", "ok", "detail", "fix"} for c in checks), checks
        by_name = {c["name"]: c for c in checks}
        assert len(by_name) == len(checks) == 12, [c["name"] for c in checks]
        assert proc.returncode == (0 if all(c["ok"] for c in checks) else 1), (proc.returncode, checks)
        return proc, by_name

    def record(self, seconds: str = "10") -> dict:
        """A real session recorded into the box's database (`agma record`, simulated whatever the box's
        source and model), its --json document."""
        proc = agma("--config", str(self.config), "record", "--duration", seconds, "--as-fast-as-possible", "--json",
                    env={**self.env(), "AGMA_SIM__RENDER": "false", "AGMA_STORE__DUMP_DIR": "off",
                         "AGMA_CAPTURE__SOURCE": "synthetic", "AGMA_POSE__MODEL": "simulated"})
        assert proc.returncode == 0, proc.stderr
        return last_json(proc)


def assert_failed(check: dict, *, detail: str, fix: str) -> None:
    """The check failed, its detail names ``detail`` and its fix says ``fix`` (substrings)."""
    assert check["ok"] is False, check
    assert detail in check["detail"], json.dumps(check)
    assert check["fix"] and fix in check["fix"], json.dumps(check)


def assert_others_pass(checks: dict, *failing: str) -> None:
    """Every check other than ``failing`` and the machine's own passed (they fail for their own reasons only)."""
    wrong = {n: c for n, c in checks.items() if n not in set(failing) | MACHINE_CHECKS and not c["ok"]}
    assert not wrong, json.dumps(wrong, indent=1)
