"""Configuration: precedence, and one clear line with exit 78 for every kind of bad value."""
from __future__ import annotations

import pytest

from appliance import config
from appliance.errors import ConfigError
from tests.helpers import agma


def _write(tmp_path, text):
    p = tmp_path / "agma.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("text, key, reason", [
    ("[store]\ncommit_interval_s = 'fast'\n", "store.commit_interval_s", "expected float"),
    ("[store]\ncommit_interval_s = 0\n", "store.commit_interval_s", "must be >= 0.01"),
    ("[store]\ncommit_intervall_s = 1\n", "store.commit_intervall_s", "unknown key"),
    ("[stor]\ndb = 'x'\n", "stor", "unknown section"),
    ("[capture]\nsource = 'webcam'\n", "capture.source", "must be one of"),
    ("[sim]\nseed = 1.5\n", "sim.seed", "expected int"),
    ("[sim]\nrender = 1\n", "sim.render", "expected bool"),
    ("[pose]\nmodel = 'onnx:'\n", "pose.model", "expected 'simulated'"),
    ("[stereo]\nmin_depth_mm = 900.0\nmax_depth_mm = 800.0\n", "stereo.max_depth_mm", "greater than"),
])
def test_bad_file_names_file_key_and_reason(tmp_path, text, key, reason):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        config.load(str(path), environ={})
    assert str(e.value).startswith(f"{path}: {key}: ")
    assert reason in str(e.value)


def test_cli_exits_78_with_one_line_and_writes_nothing(tmp_path):
    path = _write(tmp_path, "[store]\ncommit_interval_s = -1\n")
    db = tmp_path / "never.sqlite"
    proc = agma("record", "--duration", "1", "--config", str(path), "--db", str(db))
    assert proc.returncode == 78
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "store.commit_interval_s" in lines[0]
    assert not db.exists() and proc.stdout == ""


def test_not_toml_is_a_config_error(tmp_path):
    path = _write(tmp_path, "[store\n")
    proc = agma("config", "check", "--config", str(path))
    assert proc.returncode == 78 and "not valid TOML" in proc.stderr


def test_precedence_cli_over_env_over_file_over_default(tmp_path):
    path = _write(tmp_path, "[store]\ncommit_interval_s = 2.0\nqueue_frames = 64\n[sim]\nseed = 4\n")
    env = {"AGMA_STORE__COMMIT_INTERVAL_S": "1.5", "AGMA_SIM__SEED": "5"}
    cfg = config.load(str(path), {"sim.seed": (6, "command line --seed")}, environ=env)
    assert cfg["store.queue_frames"] == 64 and cfg.origins["store.queue_frames"] == str(path)
    assert cfg["store.commit_interval_s"] == 1.5 and cfg.origins["store.commit_interval_s"].startswith("environment")
    assert cfg["sim.seed"] == 6
    assert cfg["pose.decoder"] == "dark" and cfg.origins["pose.decoder"] == "default"


def test_agma_config_env_names_the_file(tmp_path):
    path = _write(tmp_path, "[box]\nid = 'box7'\n")
    assert config.load(None, environ={"AGMA_CONFIG": str(path)})["box.id"] == "box7"


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError) as e:
        config.load(None, environ={"AGMA_SIM__NOISE_PX": "lots"})
    assert "environment AGMA_SIM__NOISE_PX" in str(e.value) and "sim.noise_px" in str(e.value)
    with pytest.raises(ConfigError, match="unknown key"):
        config.load(None, environ={"AGMA_SIM__NOISE": "1"})


def test_bad_flag_names_the_flag(tmp_path):
    proc = agma("record", "--sim-noise-px", "-1", "--db", str(tmp_path / "n.sqlite"))
    assert proc.returncode == 78 and "command line --sim-noise-px" in proc.stderr


def test_defaults_record_a_simulation():
    cfg = config.load(None, environ={})
    assert (cfg["capture.source"], cfg["pose.model"], cfg["store.commit_interval_s"]) == ("synthetic", "simulated", 0.5)
    assert cfg.db_path.name == "agma.sqlite"
