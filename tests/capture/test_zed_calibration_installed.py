"""The uvc source finds the calibration `agma calib install` put in <state>/calibration: the only
one, or the one for a serial; none or several is a configuration error that says what to do."""
from __future__ import annotations

import pytest

from appliance.capture.zed_calibration import installed_calibration, resolve_state_dir, serial_from_filename
from appliance.errors import ConfigError


def test_serial_from_filename():
    assert serial_from_filename("/x/SN28012345.conf") == "28012345"
    assert serial_from_filename("sn12.CONF") == "12"
    assert serial_from_filename("/x/calib.conf") is None
    assert serial_from_filename("/x/SN12 (1).conf") is None


def test_state_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("AGMA_STATE_DIR", raising=False)
    assert str(resolve_state_dir()) == "/var/lib/agma"
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "env"))
    assert resolve_state_dir() == tmp_path / "env"
    assert resolve_state_dir(tmp_path / "flag") == tmp_path / "flag"


def test_one_none_several(tmp_path):
    d = tmp_path / "calibration"
    with pytest.raises(ConfigError, match="calib install"):
        installed_calibration(tmp_path)
    d.mkdir()
    (d / "SN1.conf").write_text("x")
    (d / "notes.txt").write_text("x")
    assert installed_calibration(tmp_path) == d / "SN1.conf"
    (d / "SN2.conf").write_text("x")
    with pytest.raises(ConfigError, match="2 calibration files"):
        installed_calibration(tmp_path)
    assert installed_calibration(tmp_path, serial="2") == d / "SN2.conf"
