"""The RectifiedCalibration a rectifier hands to every frame identifies its file: serial from the
file name, resolution and image size, the source, and the sha256 of the file's bytes, so a
`calibrations` row can be traced to the exact file that produced it."""
from __future__ import annotations

import hashlib

from appliance.capture.rectify import rectifier_from_file

from . import zed_conf_files as Z


def test_fields(tmp_path):
    path = tmp_path / "SN28012345.conf"
    Z.write(path, Z.new_format())
    c = rectifier_from_file(path, "FHD", source="uvc").calibration
    assert (c.width, c.height) == (1920, 1080)
    assert (c.serial, c.resolution, c.source) == ("28012345", "FHD", "uvc")
    assert c.file_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert c.fx == c.fy > 0 and 0 < c.cx < 1920 and 0 < c.cy < 1080
    assert all(isinstance(v, float) for v in (c.fx, c.fy, c.cx, c.cy, c.baseline_mm))
