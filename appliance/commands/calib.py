"""`agma calib show|install`: inspect a ZED factory calibration file, or install it on the box.

``agma calib show FILE [--resolution HD720|FHD|2K|VGA] [--json]`` prints the raw per-eye
intrinsics and distortion, the stereo extrinsics and the rectified values triangulation uses.
JSON (one line): ``{"file", "serial", "sha256", "resolution", "raw": {"left": {fx, fy, cx, cy,
k1, k2, p1, p2, k3}, "right": {...}, "stereo": {baseline_mm, ty_mm, tz_mm, rx, cv, rz},
"disto": {"left": {...}, "right": {...}} or null}, "rectified": {fx, fy, cx, cy, baseline_mm,
width, height, alpha}, "defaulted": [...]}``.

``agma calib install FILE [--state-dir DIR]`` checks the file, then copies it to
``<state>/calibration/SN<serial>.conf`` (state: --state-dir, else $AGMA_STATE_DIR, else
/var/lib/agma), where the uvc source finds it without a network, and to
``<capture.zed_settings_dir or /usr/local/zed/settings>/SN<serial>.conf``, where the ZED SDK
looks (the SDK downloads the file on first open, which a hospital network does not allow). Both
writes are atomic. The SDK's copy is made only where the SDK is installed (/usr/local/zed) or
its folder is configured; when that folder cannot be written, one warning line says so on
stderr (``sdk_copy.error`` in JSON) and the main install stands (exit 0).
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from .. import config as config_mod
from ..errors import ConfigError
from ..files import atomic_write
from ..output import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("calib", parents=[common], help="show or install a ZED factory calibration file (SN<serial>.conf)")
    actions = p.add_subparsers(dest="calib_action", metavar="ACTION", required=True)
    # the nested parsers take `common` again: its SUPPRESSed defaults keep `agma calib --json show F`'s --json
    show = actions.add_parser("show", parents=[common], help="raw, stereo and rectified values of a calibration file")
    show.add_argument("file", metavar="FILE", help="SN<serial>.conf")
    show.add_argument("--resolution", default="HD720", type=str.upper,
                      choices=config_mod.KEY_BY_PATH["capture.resolution"].choices,
                      help="which resolution's sections to use (default HD720)")
    show.set_defaults(handler=run)
    install = actions.add_parser("install", parents=[common], help="copy a calibration file into the box's state directory and the ZED SDK's settings folder")
    install.add_argument("file", metavar="FILE", help="SN<serial>.conf")
    install.add_argument("--state-dir", dest="state_dir", metavar="DIR",
                         help="state directory (default: $AGMA_STATE_DIR, else /var/lib/agma)")
    install.set_defaults(handler=run)
    p.set_defaults(handler=run)


def show_document(path: str | Path, resolution: str = "HD720") -> dict:
    """The `calib show --json` document of a calibration file (ConfigError when it is broken)."""
    from ..capture.rectify import DEFAULT_ALPHA, Rectifier
    from ..capture.zed_calibration import load_zed_calibration

    zed = load_zed_calibration(path, resolution)
    rect = Rectifier(zed, source="conf")
    c = rect.calibration
    disto = None
    if zed.left_disto is not None or zed.right_disto is not None:
        disto = {
            "left": zed.left_disto.as_dict() if zed.left_disto else None,
            "right": zed.right_disto.as_dict() if zed.right_disto else None,
        }
    return {
        "file": str(path),
        "serial": zed.serial,
        "sha256": zed.file_sha256,
        "resolution": zed.resolution,
        "raw": {
            "left": zed.left.as_dict(),
            "right": zed.right.as_dict(),
            "stereo": zed.stereo.as_dict(),
            "disto": disto,
        },
        "rectified": {
            "fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy, "baseline_mm": c.baseline_mm,
            "width": c.width, "height": c.height, "alpha": DEFAULT_ALPHA,
        },
        "defaulted": list(zed.defaulted),
    }


def _print_show(doc: dict) -> None:
    raw, r = doc["raw"], doc["rectified"]
    print(f"{doc['file']}  serial {doc['serial'] or '(not in the file name)'}  sha256 {doc['sha256'][:16]}…")
    print(f"resolution {doc['resolution']} ({r['width']}x{r['height']} per eye)")
    for eye in ("left", "right"):
        v = raw[eye]
        print(f"raw {eye:<5}  fx {v['fx']:.4f}  fy {v['fy']:.4f}  cx {v['cx']:.4f}  cy {v['cy']:.4f} px   "
              f"k1 {v['k1']:.6g}  k2 {v['k2']:.6g}  p1 {v['p1']:.6g}  p2 {v['p2']:.6g}  k3 {v['k3']:.6g}")
    s = raw["stereo"]
    print(f"stereo     baseline {s['baseline_mm']:.4f} mm  ty {s['ty_mm']:.4f} mm  tz {s['tz_mm']:.4f} mm   "
          f"rx {s['rx']:.6g}  cv {s['cv']:.6g}  rz {s['rz']:.6g} rad")
    if raw["disto"]:
        for eye in ("left", "right"):
            d = raw["disto"][eye]
            if d:
                print(f"disto {eye:<5} (rational model, not used for rectification)  "
                      + "  ".join(f"{k} {v:.6g}" for k, v in d.items()))
    print(f"rectified  fx {r['fx']:.4f}  fy {r['fy']:.4f}  cx {r['cx']:.4f}  cy {r['cy']:.4f} px   "
          f"baseline {r['baseline_mm']:.4f} mm   (alpha {r['alpha']:g}: every pixel valid)")
    for d in doc["defaulted"]:
        print(f"note: {d} absent from the file, taken as 0")


def _write_atomic(data: bytes, dest: Path) -> None:
    """``data`` into ``dest`` atomically and durably (files.atomic_write), then readable by all (0644:
    the SDK and the uvc source read it as other users)."""
    atomic_write(dest, data)
    os.chmod(dest, 0o644)


def place_for_sdk(data: bytes, serial: str, zed_settings_dir: str | None) -> dict:
    """Copy the checked file to ``<ZED SDK settings folder>/SN<serial>.conf``, where the SDK looks for it
    (it cannot download it on a closed network).

    The folder: capture.zed_settings_dir (made when missing), else /usr/local/zed/settings when the
    SDK is installed (/usr/local/zed exists; nothing is made on a machine without it). Never
    raises: {"path": destination or None, "written", "unchanged", "error": why it could not be
    written, or None, "note": why nothing was tried, or None}.
    """
    from ..capture.zed import SDK_ROOT, settings_dir

    out = {"path": None, "written": False, "unchanged": False, "error": None, "note": None}
    if not zed_settings_dir and not SDK_ROOT.is_dir():
        out["note"] = f"no ZED SDK here ({SDK_ROOT} is missing): no copy for it"
        return out
    folder = settings_dir(zed_settings_dir)
    dest = folder / f"SN{serial}.conf"
    out["path"] = str(dest)
    try:
        if dest.is_file() and dest.read_bytes() == data:
            out["unchanged"] = True
            return out
        folder.mkdir(parents=True, exist_ok=True)
        _write_atomic(data, dest)
    except OSError as exc:
        out["error"] = f"{exc.strerror or exc}"
        return out
    out["written"] = True
    return out


def install(path: str | Path, state_dir: str | Path | None = None, zed_settings_dir: str | None = "") -> dict:
    """Check ``path`` and copy it to ``<state>/calibration/SN<serial>.conf`` atomically, and to the ZED
    SDK's settings folder (``place_for_sdk``; zed_settings_dir: capture.zed_settings_dir, "" the
    SDK's default, None no copy for the SDK).

    Returns {"installed": destination, "serial", "sha256", "resolutions", "replaced": old sha256
    or None, "unchanged": bool, "sdk_copy": place_for_sdk's answer or None}. ConfigError when the
    file is broken or does not name its serial, or when the state directory cannot be written; a
    failed SDK copy is reported in sdk_copy, the main install kept.
    """
    from ..capture.zed_calibration import (
        calibration_dir,
        parse_zed_conf,
        read_conf_text,
        resolutions_in,
        serial_from_filename,
    )

    src = Path(path)
    text, sha = read_conf_text(src)
    serial = serial_from_filename(src)
    if serial is None:
        raise ConfigError(str(src), None, "cannot tell the camera's serial: the file must be named SN<serial>.conf")
    resolutions = resolutions_in(text, str(src))
    if not resolutions:
        raise ConfigError(str(src), None, "no [LEFT_CAM_<res>]/[RIGHT_CAM_<res>] sections for HD, FHD, 2K or VGA")
    for res in resolutions:  # every section the file has must parse: a broken one is refused now, not at capture
        parse_zed_conf(text, res, where=str(src), serial=serial, file_sha256=sha)
    data = src.read_bytes()
    dest_dir = calibration_dir(state_dir)
    dest = dest_dir / f"SN{serial}.conf"
    old_sha = hashlib.sha256(dest.read_bytes()).hexdigest() if dest.is_file() else None
    result = {"installed": str(dest), "serial": serial, "sha256": sha, "resolutions": list(resolutions)}
    if old_sha == sha:
        result.update(replaced=None, unchanged=True)
    else:
        try:
            dest_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(data, dest)
        except PermissionError as exc:
            raise ConfigError(str(dest_dir), None, f"cannot write ({exc.strerror}): run as the box's user or give --state-dir") from None
        result.update(replaced=old_sha, unchanged=False)
    result["sdk_copy"] = None if zed_settings_dir is None else place_for_sdk(data, serial, zed_settings_dir)
    return result


def run(args) -> int:
    if args.calib_action == "show":
        doc = show_document(args.file, args.resolution)
        if args.json:
            emit_json(doc)
        else:
            _print_show(doc)
        return 0
    cfg = config_mod.load(getattr(args, "config", None))
    result = install(args.file, getattr(args, "state_dir", None), cfg["capture.zed_settings_dir"])
    sdk = result["sdk_copy"]
    if args.json:
        emit_json(result)
    else:
        if result["unchanged"]:
            print(f"{result['installed']} already holds this file (sha256 {result['sha256'][:16]}…)")
        else:
            verb = "replaced" if result["replaced"] else "installed"
            print(f"{verb} {result['installed']} (serial {result['serial']}, resolutions "
                  f"{', '.join(result['resolutions'])}, sha256 {result['sha256'][:16]}…)")
        if sdk["written"]:
            print(f"placed {sdk['path']} for the ZED SDK")
        elif sdk["unchanged"]:
            print(f"{sdk['path']} (the ZED SDK's copy) already holds this file")
        elif sdk["note"]:
            print(sdk["note"])
    if sdk["error"]:  # the main install stands; the zed source cannot open this camera offline without this copy
        print(f"agma calib install: warning: cannot write {sdk['path']} ({sdk['error']}): the ZED SDK will not find "
              f"the file there; run as a user who may write that folder, or set capture.zed_settings_dir",
              file=sys.stderr)
    return 0
