"""A broken calibration file is refused with one line naming the file, the section and the key,
as a ConfigError (exit 78): never a silent 0 or a crash deep inside OpenCV."""
from __future__ import annotations

import pytest

from appliance.capture.zed_calibration import load_zed_calibration
from appliance.errors import EXIT_CONFIG, ConfigError

from . import zed_conf_files as Z

GOOD = Z.new_format(resolutions=("HD",), disto=False)


def _replace(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new, 1)


CASES = {
    "not a number": (_replace("fx=529.76", "fx=abc"), "[LEFT_CAM_HD] fx", "not a number"),
    "comma decimal": (_replace("fy=529.67", "fy=529,67"), "[LEFT_CAM_HD] fy", "comma"),
    "empty value": (_replace("cy=356.1385", "cy="), "[RIGHT_CAM_HD] cy", "empty"),
    "nan": (_replace("k1=-0.0410934", "k1=nan"), "[LEFT_CAM_HD] k1", "not a number"),
    "missing fx": (_replace("fx=530.59\n", ""), "[RIGHT_CAM_HD] fx", "missing"),
    "missing p2": (_replace("p2=0.000264757\n", ""), "[LEFT_CAM_HD] p2", "missing"),
    "missing baseline": (_replace(f"Baseline={Z.BASELINE_MM!r}\n", ""), "[STEREO] Baseline", "missing"),
    "negative baseline": (_replace(f"Baseline={Z.BASELINE_MM!r}", "Baseline=-119.9"), "[STEREO] Baseline", "positive"),
    "baseline in metres": (_replace(f"Baseline={Z.BASELINE_MM!r}", "Baseline=0.12"), "[STEREO] Baseline", "metres"),
    "missing rotation": (_replace(f"RX_HD={Z.ROT['HD'][0]!r}\n", ""), "[STEREO] RX_HD", "missing"),
    "degrees": (_replace(f"CV_HD={Z.ROT['HD'][1]!r}", "CV_HD=0.25\nCV=14.3"), None, None),  # suffixed 0.25 rad is fine
    "rotation in degrees": (_replace(f"CV_HD={Z.ROT['HD'][1]!r}", "CV_HD=14.3"), "[STEREO] CV_HD", "degrees"),
    "no stereo": (GOOD.split("[STEREO]")[0], "[STEREO]", "missing"),
    "cx outside image": (_replace("cx=650.31", "cx=1301.0"), "[LEFT_CAM_HD] cx", "outside"),
    "zero focal": (_replace("fx=529.76", "fx=0"), "[LEFT_CAM_HD] fx", "positive"),
    "duplicate key": (_replace("fx=529.76", "fx=529.76\nFX=530.1"), "[LEFT_CAM_HD] FX", "twice"),
    "duplicate section": (GOOD + "\n[left_cam_hd]\nfx=1\n", "[left_cam_hd]", "twice"),
    "key before section": ("fx=1\n" + GOOD, "line 1", "before any"),
    "garbage line": (_replace("[STEREO]\n", "[STEREO]\nthis is not ini\n"), "[STEREO] line ", "key=value"),
    "broken header": (_replace("[STEREO]", "[STEREO"), "line", "section header"),
    "html instead of ini": ("<html><body>404</body></html>\n", "line 1", "key=value"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_file_names_section_and_key(tmp_path, name):
    text, key, reason = CASES[name]
    path = Z.write(tmp_path / "SN9.conf", text)
    if key is None:  # control case: a valid file with an irrelevant odd plain key still parses
        assert load_zed_calibration(path).stereo.cv == 0.25
        return
    with pytest.raises(ConfigError) as e:
        load_zed_calibration(path)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(path + ": ")
    assert key in msg and reason in msg, msg
    assert e.value.exit_code == EXIT_CONFIG


@pytest.mark.parametrize("content, reason", [(b"", "empty"), (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a text file")])
def test_empty_or_binary_file(tmp_path, content, reason):
    p = tmp_path / "SN9.conf"
    p.write_bytes(content)
    with pytest.raises(ConfigError, match=reason):
        load_zed_calibration(p)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_zed_calibration(tmp_path / "SN404.conf")


def test_unknown_resolution(tmp_path):
    with pytest.raises(ConfigError, match="HD720|FHD|2K|VGA"):
        load_zed_calibration(Z.write(tmp_path / "SN9.conf", GOOD), "HD1080")
