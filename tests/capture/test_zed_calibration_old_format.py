"""Older files: TY/TZ per resolution (TY_HD), no k3, no DISTO sections, only some resolutions.
Suffixed translations must be found (not silently 0), a missing k3 is 0 and reported as such,
and an absent resolution is an error that says which resolutions the file has."""
from __future__ import annotations

import pytest

from appliance.capture.zed_calibration import load_zed_calibration, resolutions_in
from appliance.errors import ConfigError

from . import zed_conf_files as Z


def test_suffixed_translations_and_missing_k3(tmp_path):
    c = load_zed_calibration(Z.write(tmp_path / "SN4242.conf", Z.old_format()), "VGA")
    assert (c.stereo.ty_mm, c.stereo.tz_mm) == (Z.TY_MM, Z.TZ_MM)
    assert (c.stereo.rx, c.stereo.cv, c.stereo.rz) == Z.ROT["VGA"]
    assert c.left.k3 == 0.0 and c.right.k3 == 0.0
    for key in ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2"):
        assert getattr(c.left, key) == Z.CAMS["VGA"]["LEFT"][key]
        assert getattr(c.right, key) == Z.CAMS["VGA"]["RIGHT"][key]
    assert c.left_disto is None and c.right_disto is None
    assert set(c.defaulted) == {"[LEFT_CAM_VGA] k3", "[RIGHT_CAM_VGA] k3"}


def test_absent_translations_are_zero_and_reported(tmp_path):
    c = load_zed_calibration(Z.write(tmp_path / "SN4242.conf", Z.old_format(translations="absent", k3=True)), "HD720")
    assert (c.stereo.ty_mm, c.stereo.tz_mm) == (0.0, 0.0)
    assert c.left.k3 == Z.CAMS["HD"]["LEFT"]["k3"]
    assert set(c.defaulted) == {"[STEREO] TY", "[STEREO] TZ"}


def test_absent_resolution_names_section_and_lists_what_exists(tmp_path):
    path = Z.write(tmp_path / "SN4242.conf", Z.old_format())
    assert resolutions_in(open(path).read()) == ("HD720", "VGA")
    with pytest.raises(ConfigError) as e:
        load_zed_calibration(path, "FHD")
    msg = str(e.value)
    assert path in msg and "[LEFT_CAM_FHD]" in msg and "HD720, VGA" in msg
