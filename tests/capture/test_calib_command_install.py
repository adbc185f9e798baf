"""`agma calib install FILE` checks the file and copies it byte for byte to
<state>/calibration/SN<serial>.conf (state: --state-dir, else $AGMA_STATE_DIR), says where, and is
idempotent; a broken file or one whose name does not give the serial is refused (78) and nothing
is written."""
from __future__ import annotations

import pytest

from appliance.capture.zed_calibration import installed_calibration

from . import zed_conf_files as Z
from .calib_cli import last_json, run


@pytest.fixture(autouse=True)
def _sdk_settings_in_tmp(monkeypatch, tmp_path):
    """The ZED SDK's copy goes to a scratch folder: a test never writes /usr/local/zed/settings of a box
    (tests/capture/test_calib_command_install_sdk_copy.py tests that copy)."""
    monkeypatch.setenv("AGMA_CAPTURE__ZED_SETTINGS_DIR", str(tmp_path / "zed-settings"))


def test_install_with_flag_then_again(monkeypatch, capsys, tmp_path):
    src = tmp_path / "download" / "SN28012345.conf"
    src.parent.mkdir()
    Z.write(src, Z.new_format())
    state = tmp_path / "state"
    code, out, err = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(state), "--json")
    assert code == 0, err
    doc = last_json(out)
    dest = state / "calibration" / "SN28012345.conf"
    assert doc["installed"] == str(dest) and doc["serial"] == "28012345"
    assert doc["resolutions"] == ["HD720", "FHD", "2K", "VGA"] and doc["unchanged"] is False
    assert dest.read_bytes() == src.read_bytes()
    assert installed_calibration(state) == dest
    code, out, _ = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(state))
    assert code == 0 and "already holds this file" in out
    # a new calibration of the same camera replaces the old one and says so
    Z.write(src, Z.new_format().replace("Baseline=119.884", "Baseline=119.901"))
    code, out, _ = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(state))
    assert code == 0 and out.startswith("replaced " + str(dest))
    assert dest.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in (state / "calibration").iterdir()) == ["SN28012345.conf"]  # no temp files left


def test_install_uses_env_state_dir(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "envstate"))
    src = Z.write(tmp_path / "SN5.conf", Z.old_format())
    code, out, err = run(monkeypatch, capsys, "calib", "install", src)
    assert code == 0, err
    dest = tmp_path / "envstate" / "calibration" / "SN5.conf"
    assert dest.is_file() and str(dest) in out


def test_refused_files_write_nothing(monkeypatch, capsys, tmp_path):
    state = tmp_path / "state"
    bad = Z.write(tmp_path / "SN6.conf", Z.new_format().replace("fx=530.59", "fx=oops"))
    code, _, err = run(monkeypatch, capsys, "calib", "install", bad, "--state-dir", str(state))
    assert code == 78 and "[RIGHT_CAM_HD] fx" in err
    unnamed = Z.write(tmp_path / "calibration.conf", Z.new_format())
    code, _, err = run(monkeypatch, capsys, "calib", "install", unnamed, "--state-dir", str(state))
    assert code == 78 and "SN<serial>.conf" in err
    assert not state.exists()
