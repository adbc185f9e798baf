"""The ZED 2 through the ZED SDK (``capture.source = "zed"``): the ONLY module of agma that imports
``pyzed``, and only lazily (``import_pyzed``).

The Python module comes with the SDK, never from PyPI (a project called ``pyzed`` there is
unrelated): when it is missing, one line names the SDK's own installer,
``python3 /usr/local/zed/get_python_api.py`` (a ConfigError, exit 78: nothing can start). The
installer installs into the Python that runs it, so the line also names agma's own interpreter
(``sys.executable``: the virtual environment's, which does not see a system-wide pyzed).

Opening (``InitParameters``), each choice made explicitly so that no SDK default decides it:

- ``camera_resolution`` from capture.resolution (HD720 -> HD720, FHD -> HD1080, 2K -> HD2K,
  VGA -> VGA) and ``camera_fps`` from capture.fps (one of the ZED's rates at that resolution,
  else a ConfigError);
- ``depth_mode = NONE``: we triangulate our own keypoints; SDK 5 defaults to a neural depth mode
  that would spend GPU time on a depth map nobody reads (SDK 4 defaulted to PERFORMANCE);
- ``coordinate_units = MILLIMETER`` and ``coordinate_system = IMAGE`` (the SDK's default, pinned):
  the stereo transform's translation is then in mm along the image's x axis;
- ``set_from_serial_number`` when capture.serial is not 0 (0: the first ZED found);
- ``camera_disable_self_calib = not capture.self_calibration`` (default: off): the factory
  calibration is what accuracy rests on and what the session records; self-calibration would
  shift the values a little from one open to the next;
- ``optional_settings_path`` when capture.zed_settings_dir is set (else the SDK's own
  /usr/local/zed/settings, where ``agma calib install`` also puts SN<serial>.conf: on a closed
  hospital network the SDK cannot download it);
- ``open_timeout_sec = 5`` (OPEN_TIMEOUT_S), set although it is the SDK's default: open() must
  give up and say CAMERA_NOT_DETECTED well before the capture process's 60 s first answer
  (runtime/camera_process.py) so that an absent camera is reported as absent and retried with
  the supervisor's backoff; -1 (endless) would look like a hang. 5 s leaves the 2-3 s a ZED
  takes to open;
- ``async_grab_camera_recovery = True``: when the camera's link breaks (cable, hub, reboot),
  grab() returns CAMERA_REBOOTING at once while the SDK reconnects in the background, instead of
  blocking inside grab until the link is back or a timeout passes. So the process keeps beating
  (``on_alive``), the supervisor sees a *lost* camera (no frames) rather than a *hung* process,
  and frames simply resume on replug without killing anything; a grab that blocks anyway
  (stereolabs/zed-sdk#716) stops the heartbeat and the process is killed as hung.

Frames: ``grab`` -> ``retrieve_image`` VIEW.LEFT and VIEW.RIGHT (rectified, BGRA in every SDK
version) into two reused ``sl.Mat``, copied out as contiguous (H, W, 3) uint8 BGR (the alpha
dropped; the copy frees the Mat for the next grab); ``t_ns`` =
``get_timestamp(TIME_REFERENCE.IMAGE)``, the camera's capture time in ns since the epoch (a
restarted ZED keeps that clock). Frame indices count delivered frames from 0.

Calibration: ``get_camera_information().camera_configuration.calibration_parameters`` (the
rectified one): left_cam fx, fy, cx, cy (px) and the baseline |stereo_transform translation x|
(mm, by coordinate_units; its sign depends on which way the transform is read, the distance is
what the geometry needs) into the same RectifiedCalibration and ``calibrations`` row as the uvc
path (source ``zed_sdk``), with the camera's serial and the sha256 of the SN<serial>.conf the
SDK read (the settings folder's; None when there is none).

SDK codes (``classify``, pure, tested without pyzed): SUCCESS -> a frame; CAMERA_NOT_DETECTED ->
*absent* (at open: ZedAbsent, the runtime retries with backoff and the USB re-enumeration of
capture/usb_reset.py gets its chance, what it did carried as ``ZedAbsent.usb_reset`` to the
runtime's ``camera_usb_reset`` event; during grab: ZedAbsent ends frames(), the runtime reopens);
CAMERA_REBOOTING, LOW_USB_BANDWIDTH, CORRUPTED_FRAME -> *lost*: no frame, grab again (the
supervisor judges the gap); anything else -> an AgmaError carrying the SDK's own text. An open()
that returns a warning (SDK 5's POTENTIAL_CALIBRATION_ISSUE, 4.2+'s CONFIGURATION_FALLBACK, both
below SUCCESS) has opened the camera: ``is_opened()`` decides, not the sign of the code, which is
the same in every version — the actual resolution and rate are then checked against the config.

Versions: every ``sl.`` name used here is in the Python API of SDK 4.1, 4.2 and 5.4.0
(tests/capture/test_zed_api_surface.py checks them against ../shared/vendor-api); what changed
between them (MEM.GPU, VIEW.*_BGR, DEPTH_MODE.NEURAL_LIGHT, CalibrationParameters.set) is not
used, so no branch on the version is needed.

Heartbeat: ``on_alive`` (None, or a callable) is called after every grab that returns, frame or
not; the capture process (capture/child.py) sets it to the ring's heartbeat, so a camera that is
rebooting reads as lost, not hung.

Not verified here: no ZED and no pyzed on any development or CI machine. The names are checked
against the three APIs; the behaviour (codes during an unplug, timestamps, the sign of the
baseline) is checked on the box by scripts/acceptance-zed.sh.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import AgmaError, ConfigError
from ..frames import RectifiedCalibration, StereoFrame
from . import usb_reset
from .zed_calibration import calibration_dir, canonical_resolution

if TYPE_CHECKING:  # annotations only (never imported here at run time): the API surface test reads them
    import pyzed.sl as sl

log = logging.getLogger(__name__)

INSTALLER = "python3 /usr/local/zed/get_python_api.py"
#: The installer puts pyzed into the Python that runs it: agma's own (a virtual environment) must run it.
NOT_INSTALLED = (f"the ZED SDK's Python module (pyzed) is not installed here: install the ZED SDK, then its "
                 f"Python API with the SDK's own installer, {INSTALLER}, run by the Python agma runs on "
                 f"({sys.executable} /usr/local/zed/get_python_api.py; the PyPI project named pyzed is unrelated)")
#: Where the SDK keeps SN<serial>.conf files unless InitParameters.optional_settings_path says.
SDK_ROOT = Path("/usr/local/zed")
DEFAULT_SETTINGS_DIR = SDK_ROOT / "settings"
#: InitParameters.open_timeout_sec (see the module's doc).
OPEN_TIMEOUT_S = 5.0
#: Pause before grabbing again after a *lost* code, seconds (the SDK recovers meanwhile).
LOST_RETRY_S = 0.01
#: The ZED 2's frame rates per resolution, the default first.
ZED_FPS = {"HD720": (30, 60, 15), "FHD": (30, 15), "2K": (15,), "VGA": (100, 60, 30, 15)}
#: The smallest credible baseline, mm (a value in metres means coordinate_units was not applied).
MIN_BASELINE_MM = 10.0

ABSENT_CODES = frozenset({"CAMERA_NOT_DETECTED"})
LOST_CODES = frozenset({"CAMERA_REBOOTING", "LOW_USB_BANDWIDTH", "CORRUPTED_FRAME"})
#: Open failures that an installed factory file fixes: the message says how.
CALIBRATION_CODES = frozenset({"CALIBRATION_FILE_NOT_AVAILABLE", "INVALID_CALIBRATION_FILE"})


class ZedAbsent(AgmaError):
    """No ZED detected (CAMERA_NOT_DETECTED): at open, or during grab (unplugged).

    usb_reset: at open, what capture/usb_reset.py did about it (its line, also at the message's
    end), for the runtime's ``camera_usb_reset`` event; None when it did nothing.
    """

    def __init__(self, message: str, usb_reset: str | None = None) -> None:
        super().__init__(message)
        self.usb_reset = usb_reset


def import_pyzed(where: str = "capture.source") -> Any:
    """The ``pyzed.sl`` module, or ConfigError(NOT_INSTALLED) naming ``where``: the one place it is imported."""
    try:
        import pyzed.sl as sl  # noqa: PLC0415 - vendor SDK, imported lazily on purpose
    except ModuleNotFoundError as exc:
        if exc.name == "pyzed":
            raise ConfigError(where, None, NOT_INSTALLED) from None
        if exc.name == "pyzed.sl":  # something called pyzed is installed, without the SDK's sl
            raise ConfigError(where, None, NOT_INSTALLED.replace(
                "is not installed here", "is not installed here (a package named pyzed is, without pyzed.sl)")) from None
        raise ConfigError(where, None, f"the ZED SDK's Python module does not load ({exc}): reinstall it for "
                                       f"this SDK with {INSTALLER}") from None
    except ImportError as exc:  # installed, but built for another SDK or CUDA, or its libraries are missing
        raise ConfigError(where, None, f"the ZED SDK's Python module does not load ({exc}): reinstall it for "
                                       f"this SDK with {INSTALLER}") from None
    return sl


# -- pure parts (tested without pyzed) -------------------------------------------------------------------

@dataclass(frozen=True)
class ZedStatus:
    """What an SDK return code means here: kind ok | absent | lost | error, the code's name, the SDK's text."""

    kind: str
    code: str
    text: str


def classify(code: str, text: str = "") -> ZedStatus:
    """An SDK ERROR_CODE (its name, and ``str()`` of it: the SDK's own text) -> ZedStatus."""
    text = (text or "").strip() or code
    if code == "SUCCESS":
        return ZedStatus("ok", code, text)
    if code in ABSENT_CODES:
        return ZedStatus("absent", code, text)
    if code in LOST_CODES:
        return ZedStatus("lost", code, text)
    return ZedStatus("error", code, text)


def code_name(err: Any) -> str:
    """The name of an ``sl.ERROR_CODE`` member (a Python enum); its text for anything else."""
    return str(getattr(err, "name", "") or err)


def bgra_to_bgr(image: np.ndarray) -> np.ndarray:
    """(H, W, 4) BGRA (or (H, W, 3) BGR) uint8 -> a contiguous (H, W, 3) BGR copy, owning its memory."""
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype != np.uint8:
        raise AgmaError(f"the ZED SDK gave a {a.dtype} image of shape {a.shape}, not (H, W, 4) uint8 BGRA")
    return np.array(a[:, :, :3], order="C", copy=True)


def rectified_calibration(*, fx: float, fy: float, cx: float, cy: float, tx_mm: float, width: int, height: int,
                          serial: str, resolution: str, file_sha256: str | None) -> RectifiedCalibration:
    """The SDK's rectified left camera and stereo translation x (mm) -> RectifiedCalibration (source zed_sdk).

    The baseline is |tx_mm|; AgmaError when a value is not finite, a focal length not positive or
    the baseline under MIN_BASELINE_MM (metres: the millimetre units were not applied).
    """
    values = {"fx": fx, "fy": fy, "cx": cx, "cy": cy, "stereo_transform x": tx_mm}
    bad = [k for k, v in values.items() if not math.isfinite(float(v))]
    if bad:
        raise AgmaError(f"the ZED SDK's calibration has non-finite {', '.join(bad)}")
    if fx <= 0 or fy <= 0:
        raise AgmaError(f"the ZED SDK's calibration has focal lengths fx={fx} fy={fy} px")
    baseline = abs(float(tx_mm))
    if baseline < MIN_BASELINE_MM:
        raise AgmaError(f"the ZED SDK's baseline is {baseline:g}, under {MIN_BASELINE_MM:g} mm: "
                        "not in millimetres (coordinate_units)?")
    return RectifiedCalibration(width=int(width), height=int(height), fx=float(fx), fy=float(fy), cx=float(cx),
                                cy=float(cy), baseline_mm=baseline, serial=str(serial), resolution=resolution,
                                source="zed_sdk", file_sha256=file_sha256)


def settings_dir(configured: str | Path | None = "") -> Path:
    """The SDK's settings folder: capture.zed_settings_dir when set, else /usr/local/zed/settings."""
    return Path(configured).expanduser() if configured else DEFAULT_SETTINGS_DIR


def installed_conf(serial: str, configured: str | Path | None = "") -> Path | None:
    """The SN<serial>.conf the SDK reads: in the configured folder, else the default one (the SDK
    falls back to it: InitParameters.optional_settings_path); None when neither has it."""
    for d in dict.fromkeys((settings_dir(configured), DEFAULT_SETTINGS_DIR)):
        path = d / f"SN{serial}.conf"
        if path.is_file():
            return path
    return None


def _sha256(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def calibration_status(serial: str, configured: str | Path | None = "", state_dir: str | Path | None = None) -> dict:
    """Where SN<serial>.conf is installed: the SDK's copy and the state directory's, with their sha256."""
    sdk = installed_conf(serial, configured)
    state = calibration_dir(state_dir) / f"SN{serial}.conf"
    state_sha = _sha256(state) if state.is_file() else None
    sdk_sha = _sha256(sdk)
    return {"sdk_conf": str(sdk) if sdk else None, "sdk_conf_sha256": sdk_sha,
            "state_conf": str(state) if state_sha else None, "state_conf_sha256": state_sha,
            "installed": bool(sdk_sha) and (state_sha is None or state_sha == sdk_sha)}


def check_fps(resolution: str, fps: float) -> int:
    """capture.fps as the SDK's camera_fps; ConfigError when the ZED has no such rate at ``resolution``."""
    rates = ZED_FPS[resolution]
    n = int(round(fps))
    if n not in rates or abs(n - fps) > 1e-6:
        raise ConfigError("capture.fps", None, f"the ZED runs at {', '.join(map(str, sorted(rates)))} frames/s at "
                                               f"{resolution}, not {fps:g}")
    return n


# -- the SDK ---------------------------------------------------------------------------------------------

def sl_resolution(sl: Any, name: str) -> Any:
    """capture.resolution's name -> sl.RESOLUTION (the SDK calls FHD HD1080 and 2K HD2K)."""
    return {"HD720": sl.RESOLUTION.HD720, "FHD": sl.RESOLUTION.HD1080, "2K": sl.RESOLUTION.HD2K,
            "VGA": sl.RESOLUTION.VGA}[name]


def init_parameters(sl: Any, resolution: str, camera_fps: int, serial: int, self_calibration: bool,
                    zed_settings_dir: str) -> sl.InitParameters:
    """The InitParameters of the module's doc."""
    init = sl.InitParameters()
    init.camera_resolution = sl_resolution(sl, resolution)
    init.camera_fps = camera_fps
    init.depth_mode = sl.DEPTH_MODE.NONE
    init.coordinate_units = sl.UNIT.MILLIMETER
    init.coordinate_system = sl.COORDINATE_SYSTEM.IMAGE
    init.camera_disable_self_calib = not self_calibration
    init.open_timeout_sec = OPEN_TIMEOUT_S
    init.async_grab_camera_recovery = True
    init.sdk_verbose = 0
    if serial:
        init.set_from_serial_number(int(serial))
    if zed_settings_dir:
        init.optional_settings_path = os.path.join(str(settings_dir(zed_settings_dir)), "")  # the SDK wants the slash
    return init


class ZedSource:
    """FrameSource of a ZED 2 through the ZED SDK (see the module's doc).

    resolution: HD720 | FHD | 2K | VGA; fps: one of the ZED's rates there (None: 30, 15 at 2K,
    100 at VGA); serial: the camera to open (0: the first found); self_calibration: let the SDK
    adjust the factory calibration at open; zed_settings_dir: the SDK's settings folder ("" :
    /usr/local/zed/settings); state_dir: the box's state directory (the uvc copy of the
    calibration, and capture/usb_reset.py's memory); usb_reset_after_s: capture.usb_reset_after_s.
    Raises ConfigError (pyzed missing, a rate or resolution the camera lacks), ZedAbsent (no
    camera) or AgmaError (any other open failure, with the SDK's text).
    """

    name = "zed"
    has_truth = False
    paced = True

    def __init__(self, resolution: str = "HD720", fps: float | None = None, serial: int = 0,
                 self_calibration: bool = False, zed_settings_dir: str = "", state_dir: str | Path | None = None,
                 usb_reset_after_s: float = 30.0, where: str = "capture.source") -> None:
        res = canonical_resolution(resolution)
        self.resolution = res
        self.fps_nominal = float(fps if fps is not None else ZED_FPS[res.name][0])
        camera_fps = check_fps(res.name, self.fps_nominal)
        self.serial_wanted = int(serial or 0)
        self.zed_settings_dir = zed_settings_dir
        self.state_dir = state_dir
        #: called after every grab that returns (the capture process's heartbeat); None in-process
        self.on_alive = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sl = sl = import_pyzed(where)
        usb_state = usb_reset.state_path(state_dir)
        cam = sl.Camera()
        err = cam.open(init_parameters(sl, res.name, camera_fps, self.serial_wanted, self_calibration,
                                       zed_settings_dir))
        which = f" {self.serial_wanted}" if self.serial_wanted else ""
        if not cam.is_opened():
            cam.close()
            status = classify(code_name(err), str(err))
            if status.kind == "absent":
                note = usb_reset.after_absent(usb_state, usb_reset_after_s)
                raise ZedAbsent(f"no ZED camera{which} detected ({status.text})" + (f"; {note}" if note else ""),
                                usb_reset=note)
            hint = ""
            if status.code in CALIBRATION_CODES:
                hint = (f": put the camera's factory file where the SDK looks ({settings_dir(zed_settings_dir)}) "
                        "with `agma calib install SN<serial>.conf` (the SDK cannot download it offline)")
            raise AgmaError(f"the ZED SDK cannot open the camera{which}: {status.text}{hint}")
        if err != sl.ERROR_CODE.SUCCESS:
            log.warning("the ZED opened with a warning: %s", err)
        self._cam = cam
        usb_reset.note_opened(usb_state)
        try:
            self.calibration = self._read_calibration(res)
        except BaseException:
            self._cam = None
            cam.close()
            raise
        self._runtime = sl.RuntimeParameters()
        self._runtime.enable_depth = False
        self._left = sl.Mat()
        self._right = sl.Mat()

    def _read_calibration(self, res) -> RectifiedCalibration:
        info = self._cam.get_camera_information()
        conf = info.camera_configuration
        size = conf.resolution
        if (int(size.width), int(size.height)) != (res.width, res.height):
            raise ConfigError("capture.resolution", None, f"the ZED delivers {size.width}x{size.height} per eye, not "
                                                          f"{res.width}x{res.height} ({res.name}): does this camera have "
                                                          f"that mode?")
        if abs(float(conf.fps) - self.fps_nominal) > 0.5:
            log.warning("the ZED runs at %.1f fps, not the %.1f asked for", float(conf.fps), self.fps_nominal)
        serial = str(info.serial_number)
        if self.serial_wanted and serial != str(self.serial_wanted):
            raise AgmaError(f"asked for the ZED {self.serial_wanted} (capture.serial), the SDK opened {serial}")
        calib = conf.calibration_parameters
        left = calib.left_cam
        translation = calib.stereo_transform.get_translation().get()  # (3,) in coordinate_units: mm
        status = calibration_status(serial, self.zed_settings_dir, self.state_dir)
        if status["sdk_conf"] is None:
            log.warning("no SN%s.conf in %s: the SDK used a calibration from elsewhere (downloaded?); "
                        "`agma calib install` puts the factory file there", serial, settings_dir(self.zed_settings_dir))
        elif status["state_conf_sha256"] and status["state_conf_sha256"] != status["sdk_conf_sha256"]:
            log.warning("%s differs from %s: the session records the SDK's (%s)", status["state_conf"],
                        status["sdk_conf"], status["sdk_conf_sha256"][:16])
        return rectified_calibration(fx=float(left.fx), fy=float(left.fy), cx=float(left.cx), cy=float(left.cy),
                                     tx_mm=float(translation[0]), width=int(size.width), height=int(size.height),
                                     serial=serial, resolution=res.name, file_sha256=status["sdk_conf_sha256"])

    def _retrieve(self) -> tuple[int, np.ndarray, np.ndarray] | ZedStatus:
        """The grabbed pair as (t_ns, left BGR, right BGR), or the status of a retrieve that failed."""
        sl = self._sl
        err = self._cam.retrieve_image(self._left, sl.VIEW.LEFT)
        if err == sl.ERROR_CODE.SUCCESS:
            err = self._cam.retrieve_image(self._right, sl.VIEW.RIGHT)
        if err != sl.ERROR_CODE.SUCCESS:
            return classify(code_name(err), str(err))
        t_ns = int(self._cam.get_timestamp(sl.TIME_REFERENCE.IMAGE).get_nanoseconds())
        return t_ns, bgra_to_bgr(self._left.get_data()), bgra_to_bgr(self._right.get_data())

    def frames(self) -> Iterator[StereoFrame]:
        """Rectified frames from index 0 until close(); ZedAbsent when the camera is gone, AgmaError on
        any other SDK error (the SDK's text). Lost codes deliver nothing and grab again."""
        index = 0
        lost: dict[str, int] = {}
        while not self._closed.is_set():
            got: tuple | ZedStatus
            with self._lock:
                if self._closed.is_set() or self._cam is None:
                    break
                err = self._cam.grab(self._runtime)
                status = classify(code_name(err), str(err))
                got = self._retrieve() if status.kind == "ok" else status
            alive = self.on_alive
            if alive is not None:
                alive()
            if isinstance(got, ZedStatus):
                if got.kind == "lost":
                    if got.code not in lost:
                        log.warning("camera: %s (no frame; grabbing again)", got.text)
                    lost[got.code] = lost.get(got.code, 0) + 1
                    self._closed.wait(LOST_RETRY_S)
                    continue
                if got.kind == "absent":
                    raise ZedAbsent(f"the ZED is no longer detected after {index} frames ({got.text}): unplugged?")
                raise AgmaError(f"the ZED stopped delivering frames after {index}: {got.text}")
            if lost:
                log.info("camera: frames again after %s", ", ".join(f"{n} x {c}" for c, n in lost.items()))
                lost.clear()
            t_ns, left, right = got
            yield StereoFrame(index=index, t_ns=t_ns, left=left, right=right, calibration=self.calibration,
                              received_mono_ns=time.monotonic_ns())
            index += 1

    def close(self) -> None:
        """Stop frames() and close the camera (waits for a grab in progress, at most one frame)."""
        self._closed.set()
        with self._lock:
            cam, self._cam = self._cam, None
            if cam is not None:
                cam.close()


def probe(zed_settings_dir: str = "", state_dir: str | Path | None = None) -> dict:
    """The SDK's version and the ZEDs it sees, each with where its SN<serial>.conf is installed."""
    sl = import_pyzed()
    cameras = []
    for dev in sl.Camera.get_device_list():
        serial = str(dev.serial_number)
        cameras.append({"serial": serial, "model": str(dev.camera_model), "state": str(dev.camera_state),
                        **calibration_status(serial, zed_settings_dir, state_dir)})
    return {"sdk_version": str(sl.Camera.get_sdk_version()), "settings_dir": str(settings_dir(zed_settings_dir)),
            "cameras": cameras}


def main() -> int:
    """``python -m appliance.capture.zed``: probe() as one JSON line (scripts/acceptance-zed.sh);
    one line on stderr and exit 78 when pyzed is missing."""
    from ..config import load

    try:
        cfg = load()
    except AgmaError as exc:
        print(f"zed: {exc}", file=sys.stderr)
        return exc.exit_code
    try:
        doc = probe(cfg["capture.zed_settings_dir"])
    except AgmaError as exc:  # pyzed missing: its reason alone (the probe is not capture.source)
        print(f"zed: {exc.reason if isinstance(exc, ConfigError) else exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(doc))  # the last line of stdout (the SDK may print before it)
    return 0


if __name__ == "__main__":
    sys.exit(main())
