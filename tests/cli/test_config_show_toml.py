"""`agma config show` prints a TOML file that loads back to the same configuration.

Wave 1 printed Python reprs (`True`, `'agma-dev'`), so `config show > f.toml; agma --config
f.toml config check` failed, and `store.db = ''` hid the database actually in use. Now every value
is TOML, its origin and (for path keys) the path in use are comments, and loading the output gives
back every value exactly.
"""
from __future__ import annotations

import sys

from appliance import config
from tests.helpers import agma, last_json

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

TRICKY = '''
[box]
id = "nicu.box_3"
bed_label = "warmer \\"4\\" – Zürich\\tnord \\\\ ☃ 😀"
[sim]
render = false
seed = 7
noise_px = 1e-5
[pose]
roi_px = [10, 20.5, 300, 400]
flip_test = true
[store]
commit_interval_s = 2
'''


def test_show_loads_back_and_check_passes(tmp_path):
    src = tmp_path / "box.toml"
    src.write_text(TRICKY, encoding="utf-8")
    env = {"AGMA_STORE__QUEUE_FRAMES": "77", "XDG_DATA_HOME": str(tmp_path / "xdg")}
    shown = agma("config", "show", "--config", str(src), env=env, check=True).stdout
    table = tomllib.loads(shown)  # valid TOML: no Python True/False or quotes
    assert table["sim"]["render"] is False and table["pose"]["flip_test"] is True
    out = tmp_path / "f.toml"
    out.write_text(shown, encoding="utf-8")
    check = agma("--config", str(out), "config", "check", check=True)  # the command, without the env
    assert check.stdout.strip() == f"configuration ok ({out})"
    before = config.load(str(src), environ=env)
    after = config.load(str(out), environ={})
    assert dict(after.values) == dict(before.values)
    assert after["box.bed_label"] == 'warmer "4" – Zürich\tnord \\ ☃ 😀' and after["store.queue_frames"] == 77
    assert after["sim.noise_px"] == 1e-5 and after["pose.roi_px"] == [10.0, 20.5, 300.0, 400.0]


def test_show_names_origins_and_the_paths_in_use(tmp_path):
    src = tmp_path / "box.toml"
    src.write_text("[store]\ncommit_interval_s = 2.0\n", encoding="utf-8")
    xdg = tmp_path / "xdg"
    shown = agma("config", "show", "--config", str(src), env={"XDG_DATA_HOME": str(xdg), "AGMA_SIM__SEED": "3"},
                 check=True).stdout
    lines = {line.split(" = ", 1)[0]: line for line in shown.splitlines() if " = " in line and not line.startswith("#")}
    assert lines["commit_interval_s"] == f"commit_interval_s = 2.0  # {src}"
    assert lines["seed"] == "seed = 3  # environment AGMA_SIM__SEED"
    assert lines["db"] == f'db = ""  # default; in use: {xdg / "agma" / "agma.sqlite"}'
    assert lines["dump_dir"] == f'dump_dir = ""  # default; in use: {xdg / "agma" / "dumps"}'
    given = agma("config", "show", env={"AGMA_STORE__DB": str(tmp_path / "b.sqlite"), "AGMA_STORE__DUMP_DIR": "off"},
                 check=True).stdout
    assert f'db = "{tmp_path / "b.sqlite"}"  # environment AGMA_STORE__DB; in use: {tmp_path / "b.sqlite"}' in given
    assert 'dump_dir = "off"  # environment AGMA_STORE__DUMP_DIR; in use: off (no dumps written)' in given


def test_show_json_has_values_origins_and_paths(tmp_path):
    doc = last_json(agma("config", "show", "--json", env={"XDG_DATA_HOME": str(tmp_path)}, check=True))
    assert doc["values"]["box"]["id"] == "agma-dev" and doc["origins"]["box.id"] == "default"
    assert doc["in_use"]["store.db"] == str(tmp_path / "agma" / "agma.sqlite")
