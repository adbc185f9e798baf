"""The ZED factory calibration file, ``SN<serial>.conf``, parsed without the ZED SDK.

The file is the INI text the SDK downloads once per camera (``calib.stereolabs.com/?SN=...``)
and keeps in ``/usr/local/zed/settings``. The box cannot download it (hospital networks are
closed), so ``agma calib install`` copies it into the box's state directory and the capture
sources read it from there.

Layout, as Stereolabs' calibration tool writes it::

    [LEFT_CAM_HD]            one section per eye and resolution: 2K, FHD, HD, VGA
    fx=... fy=... cx=... cy=...        pixels, for that resolution
    k1=... k2=... p1=... p2=... k3=... OpenCV's 5-coefficient order (Brown-Conrady)
    [RIGHT_CAM_HD] ...
    [LEFT_DISTO] / [RIGHT_DISTO]       newer files only: a rational model (k1..k6, p1, p2);
                                       shown beside the per-resolution model, never used here
    [STEREO]
    Baseline=...                       mm, positive
    TY=... TZ=...  (or TY_HD=...)      mm
    CV_HD=... RX_HD=... RZ_HD=...      radians (or plain CV/RX/RZ)

Geometry (left camera is the reference): ``R = Rodrigues([RX, CV, RZ])`` and
``T = [-Baseline, TY, TZ]`` take left-camera coordinates to right-camera ones,
``X_r = R @ X_l + T``. The right camera sits ``Baseline`` mm along +X of the left one, so in the
right camera's frame the left centre is at -Baseline: hence the minus sign (OpenCV's
``stereoRectify`` then yields ``P2[0, 3] = -Baseline * f``).

What real files do, and what this parser does about it:

- keys and section names are case-insensitive (``Baseline``, ``baseline``, ``BaseLine``);
- ``TY``/``TZ``/``CV``/``RX``/``RZ`` may carry a resolution suffix (``TY_HD``) or not (``TY``).
  A reader that only looks for ``TY_<res>`` silently reads 0 on the plain files. We take the
  suffixed key for the requested resolution when present (it is the more specific value, and
  the one Stereolabs' own samples read), else the plain key;
- missing ``k3`` is 0: older files were calibrated with the 4-coefficient model
  (k1, k2, p1, p2), which *is* the 5-coefficient model with k3 = 0 (OpenCV treats a 4-vector so);
- missing ``TY``/``TZ`` are 0: the older calibration tool only estimated the baseline along X,
  i.e. it assumed the right camera exactly on the left camera's X axis, which is what a 0 says;
  the SDK itself reads them with a default of 0;
- every other value is required. A missing rotation is an error, not a 0: a silent zero rotation
  costs pixels of vertical disparity and nothing downstream could tell;
- a whole resolution section may be absent: that is an error only when that resolution is asked
  for, and the message lists the resolutions the file has.

Every value is float64. A broken file raises :class:`~appliance.errors.ConfigError` whose one
line names the file, the section and the key (exit code 78 through the CLI).
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ConfigError

__all__ = [
    "RESOLUTIONS",
    "Resolution",
    "CameraIntrinsics",
    "RationalDistortion",
    "StereoExtrinsics",
    "ZedCalibration",
    "canonical_resolution",
    "parse_zed_conf",
    "load_zed_calibration",
    "resolutions_in",
    "serial_from_filename",
    "zed_conf_text",
    "read_conf_text",
    "resolve_state_dir",
    "calibration_dir",
    "installed_calibration",
]


@dataclass(frozen=True)
class Resolution:
    """One ZED video mode: our name, the file's section suffix, and the per-eye image size (px)."""

    name: str
    section: str
    width: int
    height: int


#: The ZED 2 modes, by the name the command line and config use (HD720 | FHD | 2K | VGA).
RESOLUTIONS: dict[str, Resolution] = {
    "HD720": Resolution("HD720", "HD", 1280, 720),
    "FHD": Resolution("FHD", "FHD", 1920, 1080),
    "2K": Resolution("2K", "2K", 2208, 1242),
    "VGA": Resolution("VGA", "VGA", 672, 376),
}

# Rotations beyond this are not a factory calibration (which is a few milliradians); the usual
# cause is a value written in degrees.
_MAX_ROTATION_RAD = 0.5
# Below this the baseline was most likely written in metres (ZED 2: 120 mm, ZED Mini: 63 mm).
_MIN_BASELINE_MM = 10.0
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_SERIAL = re.compile(r"^SN([A-Za-z0-9_-]+)\.conf$", re.IGNORECASE)


def canonical_resolution(name: str) -> Resolution:
    """``"hd720"`` → RESOLUTIONS["HD720"]; unknown names raise ConfigError listing the known ones."""
    key = str(name).strip().upper()
    if key not in RESOLUTIONS:
        raise ConfigError("resolution", None, f"{name!r} is not one of {'|'.join(RESOLUTIONS)}")
    return RESOLUTIONS[key]


@dataclass(frozen=True)
class CameraIntrinsics:
    """One eye at one resolution: pinhole (px) and OpenCV's 5 distortion coefficients.

    fx, fy: focal lengths, px. cx, cy: principal point, px (OpenCV convention: origin at the
    centre of the top-left pixel). k1, k2, k3 radial; p1, p2 tangential; dimensionless.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    k1: float
    k2: float
    p1: float
    p2: float
    k3: float

    def camera_matrix(self) -> np.ndarray:
        """K, (3, 3) float64."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]], dtype=np.float64)

    def dist_coeffs(self) -> np.ndarray:
        """(5,) float64 in OpenCV's order: k1, k2, p1, p2, k3."""
        return np.array([self.k1, self.k2, self.p1, self.p2, self.k3], dtype=np.float64)

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3")}


@dataclass(frozen=True)
class RationalDistortion:
    """A ``[LEFT_DISTO]``/``[RIGHT_DISTO]`` section: resolution-independent coefficients, by name.

    Reported by ``agma calib show``; rectification uses the per-resolution 5-coefficient model.
    coefficients: ((name, value), ...) in file order, names lower-case (k1..k6, p1, p2, ...).
    """

    coefficients: tuple[tuple[str, float], ...]

    def as_dict(self) -> dict[str, float]:
        return dict(self.coefficients)

    def dist_coeffs(self) -> np.ndarray:
        """(8,) float64 in OpenCV's rational order k1, k2, p1, p2, k3, k4, k5, k6 (absent → 0)."""
        d = self.as_dict()
        return np.array([d.get(k, 0.0) for k in ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")], dtype=np.float64)


@dataclass(frozen=True)
class StereoExtrinsics:
    """The ``[STEREO]`` section at one resolution.

    baseline_mm > 0, ty_mm, tz_mm: translation parts (mm). rx, cv, rz: Rodrigues vector
    components (rad), in the order ``[RX, CV, RZ]`` (CV is the rotation about Y, "convergence").
    """

    baseline_mm: float
    ty_mm: float
    tz_mm: float
    rx: float
    cv: float
    rz: float

    def rotation(self) -> np.ndarray:
        """R, (3, 3) float64, left-camera coordinates → right-camera ones."""
        import cv2

        r, _ = cv2.Rodrigues(np.array([self.rx, self.cv, self.rz], dtype=np.float64))
        return np.asarray(r, dtype=np.float64)

    def translation_mm(self) -> np.ndarray:
        """T, (3,) float64 mm: ``[-baseline_mm, ty_mm, tz_mm]``, so that X_r = R @ X_l + T."""
        return np.array([-self.baseline_mm, self.ty_mm, self.tz_mm], dtype=np.float64)

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in ("baseline_mm", "ty_mm", "tz_mm", "rx", "cv", "rz")}


@dataclass(frozen=True)
class ZedCalibration:
    """Everything the file says about one resolution.

    width, height: per-eye image size (px) of that resolution. serial: from the file name
    ``SN<serial>.conf`` (None when the name does not say). where: the file path (or a label for
    text). file_sha256: hex digest of the file's bytes. defaulted: "[SECTION] key" for each
    absent value taken as 0 (k3, TY, TZ), so a report can say so.
    """

    resolution: str
    width: int
    height: int
    left: CameraIntrinsics
    right: CameraIntrinsics
    stereo: StereoExtrinsics
    serial: str | None = None
    where: str = "<text>"
    file_sha256: str | None = None
    left_disto: RationalDistortion | None = None
    right_disto: RationalDistortion | None = None
    defaulted: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------- INI


@dataclass
class _Section:
    name: str  # as the file spells it
    line: int
    values: dict[str, tuple[str, int, str]]  # lower key -> (key as spelled, line, raw value)


def _read_ini(text: str, where: str) -> dict[str, _Section]:
    """Sections by upper-case name. Rejects what a careful INI reader would not guess at."""
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    if text.startswith("\ufeff"):
        text = text[1:]
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            if not line.endswith("]") or len(line) < 3:
                raise ConfigError(where, f"line {lineno}", f"malformed section header {line!r}")
            name = line[1:-1].strip()
            key = name.upper()
            if key in sections:
                raise ConfigError(where, f"[{name}]", f"section appears twice (lines {sections[key].line} and {lineno})")
            current = _Section(name, lineno, {})
            sections[key] = current
            continue
        if "=" not in line:
            at = f"[{current.name}] line {lineno}" if current else f"line {lineno}"
            raise ConfigError(where, at, f"expected 'key=value' or '[SECTION]', got {line!r}")
        k, v = line.split("=", 1)
        k, v = k.strip(), v.strip()
        if not k:
            raise ConfigError(where, f"line {lineno}", "a value without a key")
        if current is None:
            raise ConfigError(where, f"line {lineno}", f"key {k!r} before any [SECTION]")
        lk = k.lower()
        if lk in current.values and current.values[lk][2] != v:
            first = current.values[lk]
            raise ConfigError(
                where, f"[{current.name}] {k}", f"given twice with different values (lines {first[1]} and {lineno})"
            )
        current.values[lk] = (k, lineno, v)
    if not sections:
        raise ConfigError(where, None, "no [SECTION] in the file: not a ZED calibration file")
    return sections


def _number(where: str, section: _Section, key: str, raw: str) -> float:
    text = raw.strip()
    if not text:
        raise ConfigError(where, f"[{section.name}] {key}", "empty value")
    if not _NUMBER.fullmatch(text):
        hint = " (a comma as decimal separator?)" if "," in text else ""
        raise ConfigError(where, f"[{section.name}] {key}", f"{raw!r} is not a number{hint}")
    value = float(text)
    if not math.isfinite(value):
        raise ConfigError(where, f"[{section.name}] {key}", f"{raw!r} is not finite")
    return value


def _get(
    where: str,
    sections: dict[str, _Section],
    section: str,
    keys: tuple[str, ...],
    *,
    default: float | None = None,
    defaulted: list[str] | None = None,
) -> float:
    """The first of ``keys`` (lower-case) present in ``section``; else default, else ConfigError."""
    sec = sections.get(section.upper())
    if sec is None:
        raise ConfigError(where, f"[{section}]", "section missing")
    for k in keys:
        if k in sec.values:
            spelled, _, raw = sec.values[k]
            return _number(where, sec, spelled, raw)
    shown = [_pretty(k, section) for k in keys]
    if default is not None:
        if defaulted is not None:
            defaulted.append(f"[{sec.name}] {shown[-1]}")
        return default
    raise ConfigError(where, f"[{sec.name}] {shown[0]}", f"missing (looked for {' or '.join(shown)}, any case)")


def _pretty(key: str, section: str) -> str:
    """A lower-case key as Stereolabs spells it: Baseline, TY, CV_HD in [STEREO]; fx, k1 elsewhere."""
    if section.upper() != "STEREO":
        return key
    return "Baseline" if key == "baseline" else key.upper()


def resolutions_in(text: str, where: str = "<text>") -> tuple[str, ...]:
    """Names (HD720, FHD, 2K, VGA) of the resolutions with both eye sections in the file."""
    sections = _read_ini(text, where)
    return tuple(
        name
        for name, res in RESOLUTIONS.items()
        if f"LEFT_CAM_{res.section}" in sections and f"RIGHT_CAM_{res.section}" in sections
    )


def serial_from_filename(path: str | Path) -> str | None:
    """``.../SN12345.conf`` → ``"12345"``; None when the name is not ``SN<serial>.conf``."""
    m = _SERIAL.match(Path(path).name)
    return m.group(1) if m else None


def _intrinsics(where: str, sections: dict[str, _Section], name: str, res: Resolution, defaulted: list[str]) -> CameraIntrinsics:
    if name.upper() not in sections:
        have = [r for r, spec in RESOLUTIONS.items() if f"LEFT_CAM_{spec.section}" in sections]
        raise ConfigError(
            where, f"[{name}]", f"section missing: the file has no {res.name} calibration (it has: {', '.join(have) or 'none'})"
        )
    vals = {k: _get(where, sections, name, (k,)) for k in ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2")}
    vals["k3"] = _get(where, sections, name, ("k3",), default=0.0, defaulted=defaulted)
    sec = sections[name.upper()]
    for k in ("fx", "fy"):
        if vals[k] <= 0:
            raise ConfigError(where, f"[{sec.name}] {k}", f"focal length must be positive, got {vals[k]!r}")
    for k, limit in (("cx", res.width), ("cy", res.height)):
        if not 0 < vals[k] < limit:
            raise ConfigError(
                where, f"[{sec.name}] {k}", f"{vals[k]!r} px lies outside the {res.width}x{res.height} image of {res.name}"
            )
    return CameraIntrinsics(**vals)


def _disto(where: str, sections: dict[str, _Section], name: str) -> RationalDistortion | None:
    sec = sections.get(name)
    if sec is None:
        return None
    return RationalDistortion(tuple((lk, _number(where, sec, spelled, raw)) for lk, (spelled, _, raw) in sec.values.items()))


def parse_zed_conf(
    text: str,
    resolution: str = "HD720",
    *,
    where: str = "<text>",
    serial: str | None = None,
    file_sha256: str | None = None,
) -> ZedCalibration:
    """Parse the text of an ``SN<serial>.conf`` for one resolution (HD720 | FHD | 2K | VGA).

    ``where`` names the file in error messages. When ``file_sha256`` is None it is the sha256
    of the text encoded as UTF-8.
    """
    res = canonical_resolution(resolution)
    sections = _read_ini(text, where)
    defaulted: list[str] = []
    left = _intrinsics(where, sections, f"LEFT_CAM_{res.section}", res, defaulted)
    right = _intrinsics(where, sections, f"RIGHT_CAM_{res.section}", res, defaulted)

    if "STEREO" not in sections:
        raise ConfigError(where, "[STEREO]", "section missing")
    suffix = "_" + res.section.lower()

    def both(key: str) -> tuple[str, ...]:
        return (key + suffix, key)

    baseline = _get(where, sections, "STEREO", ("baseline",))
    stereo_name = sections["STEREO"].name
    if baseline <= 0:
        raise ConfigError(where, f"[{stereo_name}] Baseline", f"must be positive (mm), got {baseline!r}")
    if baseline < _MIN_BASELINE_MM:
        raise ConfigError(
            where, f"[{stereo_name}] Baseline", f"{baseline!r} mm is implausibly small: the file gives millimetres, not metres"
        )
    ty = _get(where, sections, "STEREO", both("ty"), default=0.0, defaulted=defaulted)
    tz = _get(where, sections, "STEREO", both("tz"), default=0.0, defaulted=defaulted)
    rot = {k: _get(where, sections, "STEREO", both(k)) for k in ("rx", "cv", "rz")}
    for k, v in rot.items():
        if abs(v) > _MAX_ROTATION_RAD:
            raise ConfigError(
                where,
                f"[{stereo_name}] {k.upper()}{suffix.upper()}",
                f"{v!r} rad is not a factory rotation (a few milliradians): degrees instead of radians?",
            )
    stereo = StereoExtrinsics(baseline_mm=baseline, ty_mm=ty, tz_mm=tz, rx=rot["rx"], cv=rot["cv"], rz=rot["rz"])
    if file_sha256 is None:
        file_sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ZedCalibration(
        resolution=res.name,
        width=res.width,
        height=res.height,
        left=left,
        right=right,
        stereo=stereo,
        serial=serial,
        where=where,
        file_sha256=file_sha256,
        left_disto=_disto(where, sections, "LEFT_DISTO"),
        right_disto=_disto(where, sections, "RIGHT_DISTO"),
        defaulted=tuple(defaulted),
    )


def read_conf_text(path: str | Path) -> tuple[str, str]:
    """(text, sha256 of the bytes) of a calibration file; ConfigError when unreadable or not text."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(p), None, "calibration file not found") from None
    except OSError as exc:
        raise ConfigError(str(p), None, f"cannot read: {exc.strerror or exc}") from None
    if not data.strip():
        raise ConfigError(str(p), None, "the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), None, f"not a text file (byte {exc.start} is not UTF-8)") from None
    return text, hashlib.sha256(data).hexdigest()


def load_zed_calibration(path: str | Path, resolution: str = "HD720") -> ZedCalibration:
    """Read and parse ``SN<serial>.conf`` at ``path`` for one resolution. Raises ConfigError."""
    text, sha = read_conf_text(path)
    return parse_zed_conf(text, resolution, where=str(path), serial=serial_from_filename(path), file_sha256=sha)


def zed_conf_text(
    left: CameraIntrinsics,
    right: CameraIntrinsics,
    stereo: StereoExtrinsics,
    resolution: str = "HD720",
    comment: str | None = None,
) -> str:
    """The text of a one-resolution calibration file in the current (suffixed rotations) layout.

    Floats are written with ``repr`` so that parsing returns exactly the same float64 values.
    """
    res = canonical_resolution(resolution)
    lines: list[str] = []
    if comment:
        lines += [f"# {c}" for c in comment.splitlines()]
    for eye, cam in (("LEFT", left), ("RIGHT", right)):
        lines.append(f"[{eye}_CAM_{res.section}]")
        lines += [f"{k}={float(v)!r}" for k, v in cam.as_dict().items()]
        lines.append("")
    s = res.section
    lines += [
        "[STEREO]",
        f"Baseline={float(stereo.baseline_mm)!r}",
        f"TY={float(stereo.ty_mm)!r}",
        f"TZ={float(stereo.tz_mm)!r}",
        f"CV_{s}={float(stereo.cv)!r}",
        f"RX_{s}={float(stereo.rx)!r}",
        f"RZ_{s}={float(stereo.rz)!r}",
        "",
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------- state directory

#: Where the box keeps what it needs offline, unless AGMA_STATE_DIR or the command line says.
DEFAULT_STATE_DIR = Path("/var/lib/agma")
ENV_STATE_DIR = "AGMA_STATE_DIR"


def resolve_state_dir(explicit: str | Path | None = None) -> Path:
    """The box's state directory: ``explicit`` if given, else $AGMA_STATE_DIR, else /var/lib/agma."""
    import os

    if explicit:
        return Path(explicit)
    env = os.environ.get(ENV_STATE_DIR)
    return Path(env) if env else DEFAULT_STATE_DIR


def calibration_dir(state_dir: str | Path | None = None) -> Path:
    """``<state>/calibration``: where ``agma calib install`` puts ``SN<serial>.conf`` files."""
    return resolve_state_dir(state_dir) / "calibration"


def installed_calibration(state_dir: str | Path | None = None, serial: str | None = None) -> Path:
    """The installed ``SN<serial>.conf`` (the only one, or the one for ``serial``); ConfigError otherwise."""
    d = calibration_dir(state_dir)
    found = sorted(p for p in d.glob("*") if p.is_file() and serial_from_filename(p) is not None) if d.is_dir() else []
    if serial is not None:
        found = [p for p in found if serial_from_filename(p) == str(serial)]
    if len(found) == 1:
        return found[0]
    wanted = f"SN{serial}.conf" if serial is not None else "SN<serial>.conf"
    if not found:
        raise ConfigError(
            "capture.calibration", None,
            f"no {wanted} installed in {d}: copy the camera's factory file there with `agma calib install FILE`",
        )
    raise ConfigError(
        "capture.calibration", None,
        f"{len(found)} calibration files in {d} ({', '.join(p.name for p in found)}): name one in capture.calibration",
    )
