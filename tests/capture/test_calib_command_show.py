"""`agma calib show FILE --json` prints one JSON line with the raw per-eye values, the stereo
extrinsics and the rectified values, under the documented keys, with the file's numbers."""
from __future__ import annotations

import pytest

from appliance.capture.rectify import rectifier_from_file

from . import zed_conf_files as Z
from .calib_cli import last_json, run


@pytest.mark.parametrize("name, res", [("HD720", "HD"), ("2K", "2K")])
def test_json_document(monkeypatch, capsys, tmp_path, name, res):
    path = Z.write(tmp_path / "SN28012345.conf", Z.new_format())
    code, out, err = run(monkeypatch, capsys, "calib", "show", path, "--resolution", name, "--json")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1
    doc = last_json(out)
    for eye in ("left", "right"):
        assert doc["raw"][eye] == Z.CAMS[res][eye.upper()]
    rx, cv, rz = Z.ROT[res]
    assert doc["raw"]["stereo"] == dict(baseline_mm=Z.BASELINE_MM, ty_mm=Z.TY_MM, tz_mm=Z.TZ_MM, rx=rx, cv=cv, rz=rz)
    assert doc["raw"]["disto"] == {"left": Z.DISTO["LEFT"], "right": Z.DISTO["RIGHT"]}
    c = rectifier_from_file(path, name).calibration
    w, h = Z.SIZES[res]
    assert doc["rectified"] == dict(fx=c.fx, fy=c.fy, cx=c.cx, cy=c.cy, baseline_mm=c.baseline_mm, width=w, height=h, alpha=0.0)
    assert doc["serial"] == "28012345" and doc["resolution"] == name and doc["sha256"] == c.file_sha256


def test_text_output_mentions_defaults(monkeypatch, capsys, tmp_path):
    """Without --json: human lines, and a note for every value the file did not give (taken as 0)."""
    path = Z.write(tmp_path / "SN7.conf", Z.old_format(translations="absent"))
    code, out, err = run(monkeypatch, capsys, "calib", "show", path)
    assert code == 0, err
    assert "raw left" in out and "rectified" in out and "baseline 119.8840 mm" in out
    assert "[STEREO] TY absent from the file, taken as 0" in out
    assert "[LEFT_CAM_HD] k3 absent" in out


def test_json_flag_before_the_action(monkeypatch, capsys, tmp_path):
    """`agma calib --json show FILE` keeps its --json (argparse would let the nested default win)."""
    path = Z.write(tmp_path / "SN7.conf", Z.new_format())
    code, out, _ = run(monkeypatch, capsys, "calib", "--json", "show", path)
    assert code == 0 and last_json(out)["raw"]["left"]["fx"] == Z.CAMS["HD"]["LEFT"]["fx"]
