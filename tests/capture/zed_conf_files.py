"""Test helper: ZED factory calibration texts in the shapes real SN<serial>.conf files come in.

The numbers are of the size a ZED 2 really has (f ≈ 530 px at HD720, baseline ≈ 120 mm,
k1 ≈ -0.04, rotations of a few milliradians with mixed signs, TY/TZ of a fraction of a mm) and
differ per resolution and per eye, so a parser that reads the wrong section or key is caught.
The texts are written here by hand (string formatting), never by the code under test.
"""
from __future__ import annotations

# per resolution (file suffix): eye -> values, exactly as written in the file
CAMS = {
    "2K": {
        "LEFT": dict(fx=1059.52, fy=1059.34, cx=1115.62, cy=623.814, k1=-0.0410934, k2=0.00959418, p1=-0.000386503, p2=0.000264757, k3=-0.00475322),
        "RIGHT": dict(fx=1061.18, fy=1060.97, cx=1102.43, cy=631.277, k1=-0.0398123, k2=0.00891262, p1=0.000211954, p2=-0.000300412, k3=-0.00512087),
    },
    "FHD": {
        "LEFT": dict(fx=1059.52, fy=1059.34, cx=979.62, cy=542.814, k1=-0.0410934, k2=0.00959418, p1=-0.000386503, p2=0.000264757, k3=-0.00475322),
        "RIGHT": dict(fx=1061.18, fy=1060.97, cx=966.43, cy=550.277, k1=-0.0398123, k2=0.00891262, p1=0.000211954, p2=-0.000300412, k3=-0.00512087),
    },
    "HD": {
        "LEFT": dict(fx=529.76, fy=529.67, cx=650.31, cy=362.407, k1=-0.0410934, k2=0.00959418, p1=-0.000386503, p2=0.000264757, k3=-0.00475322),
        "RIGHT": dict(fx=530.59, fy=530.485, cx=643.715, cy=356.1385, k1=-0.0398123, k2=0.00891262, p1=0.000211954, p2=-0.000300412, k3=-0.00512087),
    },
    "VGA": {
        "LEFT": dict(fx=264.88, fy=264.835, cx=343.655, cy=190.7035, k1=-0.0410934, k2=0.00959418, p1=-0.000386503, p2=0.000264757, k3=-0.00475322),
        "RIGHT": dict(fx=265.295, fy=265.2425, cx=340.3575, cy=187.56925, k1=-0.0398123, k2=0.00891262, p1=0.000211954, p2=-0.000300412, k3=-0.00512087),
    },
}
BASELINE_MM = 119.884
TY_MM = 0.0923
TZ_MM = -0.4416
# rotations per resolution: (RX, CV, RZ) in radians, mixed signs
ROT = {
    "2K": (-0.00186, 0.00423, 0.000752),
    "FHD": (-0.00187, 0.00424, 0.000753),
    "HD": (-0.00188, 0.00425, -0.000754),
    "VGA": (0.00189, -0.00426, 0.000755),
}
DISTO = {
    "LEFT": dict(k1=-0.726143, k2=-0.152847, k3=0.00631275, k4=-0.684832, k5=-0.209517, k6=0.0109884, p1=-0.000348716, p2=0.000184623),
    "RIGHT": dict(k1=-0.803916, k2=-0.0915321, k3=0.00211342, k4=-0.762008, k5=-0.150761, k6=0.00712855, p1=0.000190236, p2=-0.000276391),
}
SIZES = {"2K": (2208, 1242), "FHD": (1920, 1080), "HD": (1280, 720), "VGA": (672, 376)}
NAME_OF = {"2K": "2K", "FHD": "FHD", "HD": "HD720", "VGA": "VGA"}


def cam_section(eye: str, res: str, *, k3: bool = True, upper_keys: bool = False) -> str:
    vals = dict(CAMS[res][eye])
    if not k3:
        del vals["k3"]
    lines = [f"[{eye}_CAM_{res}]"]
    for k, v in vals.items():
        lines.append(f"{k.upper() if upper_keys else k}={v!r}")
    return "\n".join(lines) + "\n"


def new_format(resolutions=("2K", "FHD", "HD", "VGA"), disto: bool = True) -> str:
    """The current layout: plain Baseline/TY/TZ, suffixed CV/RX/RZ, DISTO sections, MISC."""
    parts = [cam_section(eye, r) for r in resolutions for eye in ("LEFT", "RIGHT")]
    stereo = ["[STEREO]", f"Baseline={BASELINE_MM!r}", f"TY={TY_MM!r}", f"TZ={TZ_MM!r}"]
    for key, i in (("CV", 1), ("RX", 0), ("RZ", 2)):
        stereo += [f"{key}_{r}={ROT[r][i]!r}" for r in resolutions]
    parts.append("\n".join(stereo) + "\n")
    if disto:
        for eye in ("LEFT", "RIGHT"):
            parts.append(f"[{eye}_DISTO]\n" + "\n".join(f"{k}={v!r}" for k, v in DISTO[eye].items()) + "\n")
    parts.append("[MISC]\nSensor_ID=1\n")
    return "\n".join(parts)


def old_format(resolutions=("HD", "VGA"), k3: bool = False, translations: str = "suffixed") -> str:
    """An older layout: no k3, TY/TZ per resolution (``translations="suffixed"``) or absent
    (``"absent"``), no DISTO sections, only some resolutions."""
    parts = [cam_section(eye, r, k3=k3) for r in resolutions for eye in ("LEFT", "RIGHT")]
    stereo = ["[STEREO]", f"Baseline={BASELINE_MM!r}"]
    for r in resolutions:
        if translations == "suffixed":
            stereo += [f"TY_{r}={TY_MM!r}", f"TZ_{r}={TZ_MM!r}"]
        stereo += [f"CV_{r}={ROT[r][1]!r}", f"RX_{r}={ROT[r][0]!r}", f"RZ_{r}={ROT[r][2]!r}"]
    parts.append("\n".join(stereo) + "\n")
    return "\n".join(parts)


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)
