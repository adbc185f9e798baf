"""Plain TY/TZ/CV/RX/RZ are read (several real files have them; readers that only look for
TY_<res> silently read 0), and where both spellings exist the resolution's own value wins."""
from __future__ import annotations

from appliance.capture.zed_calibration import load_zed_calibration

from . import zed_conf_files as Z


def _file(stereo_lines: str) -> str:
    return Z.cam_section("LEFT", "HD") + Z.cam_section("RIGHT", "HD") + "[STEREO]\nBaseline=120.01\n" + stereo_lines


def test_plain_keys_everywhere(tmp_path):
    c = load_zed_calibration(Z.write(tmp_path / "SN1.conf", _file("TY=0.31\nTZ=-0.27\nCV=-0.0031\nRX=0.0022\nRZ=-0.0009\n")))
    assert c.stereo.as_dict() == dict(baseline_mm=120.01, ty_mm=0.31, tz_mm=-0.27, rx=0.0022, cv=-0.0031, rz=-0.0009)
    assert c.defaulted == ()


def test_suffixed_value_wins_over_plain(tmp_path):
    lines = "TY=9.0\nTY_HD=0.31\nTZ_FHD=5.0\nTZ=-0.27\nCV=1e-3\nCV_HD=-0.0031\nRX_HD=0.0022\nRZ=-0.0009\nRZ_VGA=0.4\n"
    c = load_zed_calibration(Z.write(tmp_path / "SN1.conf", _file(lines)))
    # TY: suffixed HD wins; TZ: only FHD suffixed (another resolution) so plain; RZ: VGA suffix ignored
    assert c.stereo.as_dict() == dict(baseline_mm=120.01, ty_mm=0.31, tz_mm=-0.27, rx=0.0022, cv=-0.0031, rz=-0.0009)
