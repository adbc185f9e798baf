"""`agma calib install FILE` also places the file where the ZED SDK looks: <capture.zed_settings_dir>/SN<serial>.conf.

Why: the SDK downloads the factory calibration on the first open of a camera and fails without a
network, which a hospital does not give; the file has to be where the SDK reads it. The copy is
byte for byte and atomic (no temporary file left), idempotent, made in a configured folder that
does not exist yet, and a folder that cannot be written costs one warning line on stderr
(sdk_copy.error in JSON) without losing the main install (exit 0). The folder is set through the
environment form of capture.zed_settings_dir, as on the box; a machine without the SDK and without
that key gets no copy and a note (checked only where /usr/local/zed is absent: a test never writes
a real SDK folder).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from appliance.capture.zed import SDK_ROOT

from . import zed_conf_files as Z
from .calib_cli import last_json, run

ENV = "AGMA_CAPTURE__ZED_SETTINGS_DIR"


def _source(tmp_path):
    (tmp_path / "download").mkdir()
    return Path(Z.write(tmp_path / "download" / "SN28012345.conf", Z.new_format()))


def test_copy_into_the_configured_folder_then_unchanged(monkeypatch, capsys, tmp_path):
    src = _source(tmp_path)
    settings = tmp_path / "zed" / "settings"  # does not exist yet: made
    monkeypatch.setenv(ENV, str(settings))
    code, out, err = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(tmp_path / "state"), "--json")
    assert code == 0, err
    doc = last_json(out)
    dest = settings / "SN28012345.conf"
    assert doc["sdk_copy"]["path"] == str(dest) and doc["sdk_copy"]["written"] is True and doc["sdk_copy"]["error"] is None
    assert dest.read_bytes() == src.read_bytes()
    assert (tmp_path / "state" / "calibration" / "SN28012345.conf").read_bytes() == src.read_bytes()
    assert sorted(p.name for p in settings.iterdir()) == ["SN28012345.conf"]  # no temporary file left
    code, out, err = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(tmp_path / "state"))
    assert code == 0 and err == ""
    assert f"{dest} (the ZED SDK's copy) already holds this file" in out


def test_a_stale_sdk_copy_is_replaced_even_when_the_main_one_is_current(monkeypatch, capsys, tmp_path):
    src = _source(tmp_path)
    settings = tmp_path / "settings"
    monkeypatch.setenv(ENV, str(settings))
    state = tmp_path / "state"
    assert run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(state))[0] == 0
    (settings / "SN28012345.conf").write_text("an older download\n", encoding="utf-8")
    code, out, _ = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(state))
    assert code == 0 and "already holds this file" in out.splitlines()[0]  # the main copy was current
    assert f"placed {settings / 'SN28012345.conf'} for the ZED SDK" in out
    assert (settings / "SN28012345.conf").read_bytes() == src.read_bytes()


def test_an_unwritable_sdk_folder_warns_and_keeps_the_main_install(monkeypatch, capsys, tmp_path):
    src = _source(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the settings folder's parent should be\n", encoding="utf-8")
    monkeypatch.setenv(ENV, str(blocker / "settings"))  # mkdir fails for real (root or not)
    state = tmp_path / "state"
    code, out, err = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(state), "--json")
    assert code == 0
    doc = last_json(out)
    assert doc["sdk_copy"]["written"] is False and doc["sdk_copy"]["error"]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and str(blocker / "settings" / "SN28012345.conf") in lines[0], err
    assert "capture.zed_settings_dir" in lines[0] and "Traceback" not in err
    assert (state / "calibration" / "SN28012345.conf").read_bytes() == src.read_bytes()


@pytest.mark.skipif(SDK_ROOT.exists(), reason="the ZED SDK is installed here: this test must not write its folder")
def test_no_sdk_and_no_folder_configured_gives_a_note(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv(ENV, raising=False)
    src = _source(tmp_path)
    code, out, err = run(monkeypatch, capsys, "calib", "install", str(src), "--state-dir", str(tmp_path / "state"), "--json")
    assert code == 0, err
    sdk = last_json(out)["sdk_copy"]
    assert sdk["path"] is None and sdk["written"] is False and str(SDK_ROOT) in sdk["note"]
    assert not SDK_ROOT.exists()
