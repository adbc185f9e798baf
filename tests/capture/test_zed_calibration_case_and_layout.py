"""Keys and section names are case-insensitive, and the INI text may carry a BOM, CRLF line
ends, comments and spaces around '=': real files (and hand edits of them) do."""
from __future__ import annotations

from appliance.capture.zed_calibration import load_zed_calibration

from . import zed_conf_files as Z


def test_mixed_case_crlf_bom_comments(tmp_path):
    v = Z.CAMS["HD"]
    text = "\ufeff# factory calibration\r\n"
    for eye, sec in (("LEFT", "left_cam_hd"), ("RIGHT", "Right_Cam_Hd")):
        text += f"[{sec}]\r\n"
        for i, (k, val) in enumerate(v[eye].items()):
            key = k.upper() if i % 2 else k  # FX, fy, CX, cy, ...
            text += f"  {key} = {val!r}\r\n"
        text += "; end of eye\r\n\r\n"
    rx, cv, rz = Z.ROT["HD"]
    text += (f"[stereo]\r\nBaseLine = {Z.BASELINE_MM!r}\r\nty_hd={Z.TY_MM!r}\r\nTz_Hd={Z.TZ_MM!r}\r\n"
             f"cv_HD={cv!r}\r\nRx_hd={rx!r}\r\nrZ_Hd={rz!r}\r\n")
    c = load_zed_calibration(Z.write(tmp_path / "sn77.CONF", text), "hd720")
    for eye, cam in (("LEFT", c.left), ("RIGHT", c.right)):
        assert cam.as_dict() == v[eye]
    assert c.stereo.as_dict() == dict(baseline_mm=Z.BASELINE_MM, ty_mm=Z.TY_MM, tz_mm=Z.TZ_MM, rx=rx, cv=cv, rz=rz)
    assert c.serial == "77" and c.resolution == "HD720"
