"""box.id names files (<uid>.sqlite dumps) and MQTT topics, so it is checked when the config loads.

Wave 1 accepted `box.id = "a/b c"`: its sessions were recorded, then every dump of them failed
(the uid holds a '/') and `dump --new` wrote nothing. Now such a name stops every command at
configuration time: exit 78, one line naming the file, the key and the reason, nothing written.
"""
from __future__ import annotations

import pytest

from appliance import config
from appliance.errors import ConfigError
from tests.helpers import agma


@pytest.mark.parametrize("bad", ["a/b c", "", "box 1", "-box", ".hidden", "bed#4", "x" * 65, "ü-box", "a\\b"])
def test_bad_box_id_is_a_config_error(tmp_path, bad):
    path = tmp_path / "agma.toml"
    path.write_text(f"[box]\nid = '{bad}'\n", encoding="utf-8")  # a TOML literal string: no escapes
    with pytest.raises(ConfigError) as e:
        config.load(str(path), environ={})
    assert str(e.value).startswith(f"{path}: box.id: expected 1-64 letters")


@pytest.mark.parametrize("good", ["agma-dev", "NICU.box_07", "7", "x" * 64])
def test_good_box_id_loads(good):
    assert config.load(None, {"box.id": (good, "command line --box-id")}, environ={})["box.id"] == good


def test_record_with_a_slash_in_box_id_exits_78_and_writes_nothing(tmp_path):
    path = tmp_path / "agma.toml"
    path.write_text('[box]\nid = "a/b c"\n', encoding="utf-8")
    db = tmp_path / "never.sqlite"
    proc = agma("record", "--duration", "1", "--config", str(path), "--db", str(db))
    assert proc.returncode == 78, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "box.id" in lines[0] and "'a/b c'" in lines[0]
    assert proc.stdout == "" and not db.exists()


def test_box_id_flag_and_environment_are_checked_too(tmp_path):
    proc = agma("config", "check", "--json", env={"AGMA_BOX__ID": "ward 3/bed 4"})
    assert proc.returncode == 78 and "environment AGMA_BOX__ID: box.id:" in proc.stderr
    proc = agma("record", "--duration", "1", "--box-id", "a/b", "--db", str(tmp_path / "x.sqlite"))
    assert proc.returncode == 78 and "command line --box-id: box.id:" in proc.stderr
    assert not (tmp_path / "x.sqlite").exists()
