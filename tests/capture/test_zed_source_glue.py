"""The zed source's own code runs end to end against a stand-in pyzed.sl: open, calibration, frames, codes, close.

Why: no ZED SDK installs here, so without this the source's glue (which InitParameters it sets,
how codes become absent / lost / errors, BGR copies, the heartbeat, the calibration row) would
first run on the box. The stand-in (tests/capture/fake_pyzed) holds only names all three SDK
versions have (checked below against ../shared/vendor-api) and is shaped as sl.pyx is; what the
real SDK does during an unplug is for scripts/acceptance-zed.sh. usb_reset_after_s is 0 in every
test: a box running the suite with a real ZED on its bus must not have it reset.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import sys
from pathlib import Path

import pytest

from appliance import capture, config
from appliance.capture import zed
from appliance.errors import AgmaError, ConfigError

from .test_zed_api_surface import LIST_GAPS, VERSIONS, _vendor

FAKE = Path(__file__).resolve().parent / "fake_pyzed"


@pytest.fixture
def sl(monkeypatch):
    """The stand-in as ``pyzed.sl`` for one test (gone from sys.modules afterwards)."""
    for name in ("pyzed.sl", "pyzed"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(FAKE))
    module = importlib.import_module("pyzed.sl")
    module.reset()
    yield module
    for name in ("pyzed.sl", "pyzed"):
        sys.modules.pop(name, None)


def _open(tmp_path, **kw):
    args = dict(resolution="VGA", fps=30, state_dir=tmp_path / "state", usb_reset_after_s=0.0)
    args.update(kw)
    return zed.ZedSource(**args)


def test_open_sets_every_parameter_and_reads_the_calibration(sl, tmp_path):
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "SN28012345.conf").write_bytes(b"[STEREO]\nBaseline=119.9\n")
    sl.reset(size=(672, 376))
    src = _open(tmp_path, serial=28012345, zed_settings_dir=str(settings))
    init = sl.LOG["init"]
    assert init["camera_resolution"] is sl.RESOLUTION.VGA and init["camera_fps"] == 30
    assert init["depth_mode"] is sl.DEPTH_MODE.NONE and init["coordinate_units"] is sl.UNIT.MILLIMETER
    assert init["coordinate_system"] is sl.COORDINATE_SYSTEM.IMAGE
    assert init["camera_disable_self_calib"] is True  # capture.self_calibration off
    assert init["open_timeout_sec"] == zed.OPEN_TIMEOUT_S and init["async_grab_camera_recovery"] is True
    assert init["_serial"] == 28012345 and init["optional_settings_path"] == str(settings) + "/"
    c = src.calibration
    assert (c.width, c.height, c.fx, c.fy, c.cx, c.cy) == (672, 376, 26.4, 26.5, 16.1, 9.2)
    assert c.baseline_mm == pytest.approx(119.9, rel=1e-6) and (c.serial, c.resolution, c.source) == ("28012345", "VGA", "zed_sdk")
    assert c.file_sha256 == hashlib.sha256(b"[STEREO]\nBaseline=119.9\n").hexdigest()
    assert src._runtime.enable_depth is False
    src.close()
    assert sl.LOG["closed"] == 1


def test_frames_skip_lost_codes_beat_on_every_grab_and_end_absent(sl, tmp_path):
    sl.reset(size=(672, 376), grabs=["SUCCESS", "CAMERA_REBOOTING", "CORRUPTED_FRAME", "LOW_USB_BANDWIDTH",
                                     "SUCCESS", "CAMERA_NOT_DETECTED"])
    src = _open(tmp_path, self_calibration=True)
    assert sl.LOG["init"]["camera_disable_self_calib"] is False and sl.LOG["init"]["_serial"] == 0
    beats = []
    src.on_alive = lambda: beats.append(sl.LOG["grabs"])
    got = []
    with pytest.raises(zed.ZedAbsent, match="no longer detected after 2 frames \\(CAMERA NOT DETECTED\\)"):
        for frame in src.frames():
            got.append(frame)
    assert beats == [1, 2, 3, 4, 5, 6]  # after every grab, frame or not
    assert [f.index for f in got] == [0, 1]
    # the image's own time: grabs 1 and 5 of a camera whose clock ran on through the lost ones
    assert [f.t_ns for f in got] == [sl.SCRIPT["t0_ns"] + 33_333_333, sl.SCRIPT["t0_ns"] + 5 * 33_333_333]
    f = got[1]
    assert f.left.shape == f.right.shape == (376, 672, 3) and f.left.flags.c_contiguous
    assert (f.left[0, 0].tolist(), f.right[0, 0].tolist()) == ([2, 0, 7], [2, 1, 7])  # B G R of each view, alpha dropped
    assert got[0].left[0, 0, 0] == 1  # its own copy: the next grab's image did not overwrite it
    assert sl.LOG["retrieved"] == ["LEFT", "RIGHT", "LEFT", "RIGHT"]
    assert f.calibration is src.calibration
    src.close()


def test_any_other_grab_code_ends_frames_with_the_sdks_text(sl, tmp_path):
    sl.reset(size=(672, 376), grabs=["SUCCESS", "FAILURE"])
    src = _open(tmp_path)
    with pytest.raises(AgmaError, match="stopped delivering frames after 1: FAILURE") as info:
        list(src.frames())
    assert not isinstance(info.value, zed.ZedAbsent)
    src.close()


def test_open_failures(sl, tmp_path):
    sl.reset(open="CAMERA_NOT_DETECTED")
    with pytest.raises(zed.ZedAbsent, match="no ZED camera 77 detected \\(CAMERA NOT DETECTED\\)$"):
        _open(tmp_path, serial=77)
    sl.reset(open="CALIBRATION_FILE_NOT_AVAILABLE")
    with pytest.raises(AgmaError, match="CALIBRATION FILE NOT AVAILABLE: put the camera's factory file .*agma calib install"):
        _open(tmp_path)
    sl.reset(open="CAMERA_DETECTION_ISSUE")
    with pytest.raises(AgmaError, match="cannot open the camera: CAMERA DETECTION ISSUE$"):
        _open(tmp_path)
    sl.reset(size=(1280, 720))  # asked VGA, the camera gives HD720: a config error, the camera closed again
    with pytest.raises(ConfigError, match="the ZED delivers 1280x720 per eye, not 672x376 \\(VGA\\)"):
        _open(tmp_path)
    assert sl.LOG["closed"] == 1
    sl.reset(size=(672, 376), serial=5)
    with pytest.raises(AgmaError, match="asked for the ZED 77 \\(capture.serial\\), the SDK opened 5"):
        _open(tmp_path, serial=77)


def test_a_warning_at_open_still_opens(sl, tmp_path):
    sl.reset(open="CAMERA_REBOOTING", size=(672, 376))  # below SUCCESS: the SDK opened with a warning
    _open(tmp_path).close()


def test_open_source_passes_the_config_keys(sl, tmp_path, monkeypatch):
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "state"))
    sl.reset(size=(1280, 720))
    cfg = config.load(environ={"AGMA_CAPTURE__SOURCE": "zed", "AGMA_CAPTURE__SERIAL": "28012345",
                               "AGMA_CAPTURE__SELF_CALIBRATION": "true", "AGMA_CAPTURE__FPS": "60",
                               "AGMA_CAPTURE__USB_RESET_AFTER_S": "0"})
    source = capture.open_source(cfg, None, as_fast_as_possible=False)
    try:
        assert source.name == "zed" and source.fps_nominal == 60.0
        init = sl.LOG["init"]
        assert (init["camera_resolution"], init["camera_fps"], init["_serial"]) == (sl.RESOLUTION.HD720, 60, 28012345)
        assert init["camera_disable_self_calib"] is False and init["optional_settings_path"] == ""
    finally:
        source.close()


def test_the_box_probe(sl, tmp_path):
    doc = zed.probe(str(tmp_path / "settings"), tmp_path / "state")
    assert doc["sdk_version"] == "4.2.5 (stand-in)"
    assert [(c["serial"], c["model"], c["installed"]) for c in doc["cameras"]] == [("28012345", "ZED 2", False)]


def test_the_stand_in_only_has_names_every_sdk_version_has():
    tree = ast.parse((FAKE / "pyzed" / "sl.py").read_text(encoding="utf-8"))
    names = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")):
        names.add(f"sl.{cls.name}")
        for node in ast.walk(cls):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                names.add(f"sl.{cls.name}.{node.name}")
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    for e in (t.elts if isinstance(t, ast.Tuple) else [t]):
                        if isinstance(e, ast.Name) and e.id.isupper():  # an enum member
                            names.add(f"sl.{cls.name}.{e.id}")
                        elif isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self" \
                                and not e.attr.startswith("_"):
                            names.add(f"sl.{cls.name}.{e.attr}")
        for node in cls.body:  # __slots__ names are the parameters' attributes
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets):
                names |= {f"sl.{cls.name}.{e.value}" for e in node.value.elts if not e.value.startswith("_")}
    assert "sl.InitParameters.async_grab_camera_recovery" in names and "sl.ERROR_CODE.CORRUPTED_FRAME" in names
    for version in VERSIONS:
        assert sorted(names - _vendor(version) - set(LIST_GAPS)) == [], version
