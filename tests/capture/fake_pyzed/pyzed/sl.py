"""A stand-in for ``pyzed.sl`` (tests/capture/test_zed_source_glue.py): no ZED SDK can be installed here.

It has only names the SDK 4.1, 4.2 and 5.4.0 Python APIs all have (a test checks it against
../shared/vendor-api), shaped as sl.pyx shapes them: the enums are ``enum.Enum`` whose ``str()`` is
the SDK's text, ``retrieve_image`` fills a Mat with BGRA (H, W, 4) uint8, parameters are plain
attributes (slotted, so a misspelt one raises). Its behaviour is a script the test sets
(``SCRIPT``; defaults overridden by the JSON of $FAKE_PYZED_SCRIPT, for a dry run of
scripts/acceptance-zed.sh with PYTHONPATH=tests/capture/fake_pyzed): the code open() returns,
the codes grab() returns in turn (the last one repeats), the camera's serial, size and
calibration, a pace (``grab_s``), and ``unplugged_while``: a path; grab() returns
CAMERA_REBOOTING while that file exists (one line of time.monotonic() per such grab into
``unplugged_log`` when given); ``chatty``: open() writes a console line to fd 1, as the SDK
does. ``LOG`` records the InitParameters open() was given and the
calls made. It is not the SDK: what the SDK does during an unplug is checked on the box.
"""
from __future__ import annotations

import enum
import json
import os
import time

import numpy as np

SCRIPT: dict = {}
LOG: dict = {}


def reset(**script) -> None:
    SCRIPT.clear()
    SCRIPT.update({"open": "SUCCESS", "grabs": ["SUCCESS"], "serial": 28012345, "size": (32, 18), "fps": 30.0,
                   "fx": 26.4, "fy": 26.5, "cx": 16.1, "cy": 9.2, "translation": (-119.9, 0.0, 0.0),
                   "t0_ns": 1_700_000_000_000_000_000, "grab_s": 0.0,
                   **json.loads(os.environ.get("FAKE_PYZED_SCRIPT", "{}")), **script})
    LOG.clear()
    LOG.update({"init": None, "grabs": 0, "closed": 0, "retrieved": []})


class _Text(enum.Enum):
    def __str__(self) -> str:
        return self.name.replace("_", " ")

    __repr__ = __str__


class ERROR_CODE(_Text):
    CORRUPTED_FRAME = -2
    CAMERA_REBOOTING = -1
    SUCCESS = 0
    FAILURE = 1
    CAMERA_NOT_DETECTED = 4
    LOW_USB_BANDWIDTH = 8
    CALIBRATION_FILE_NOT_AVAILABLE = 9
    CAMERA_DETECTION_ISSUE = 27


class RESOLUTION(_Text):
    HD2K = 0
    HD1080 = 1
    HD720 = 3
    VGA = 5


class DEPTH_MODE(_Text):
    NONE = 0
    PERFORMANCE = 1
    NEURAL = 4


class UNIT(_Text):
    MILLIMETER = 0
    METER = 2


class COORDINATE_SYSTEM(_Text):
    IMAGE = 0


class VIEW(_Text):
    LEFT = 0
    RIGHT = 1


class TIME_REFERENCE(_Text):
    IMAGE = 0
    CURRENT = 1


class InitParameters:
    __slots__ = ("camera_resolution", "camera_fps", "depth_mode", "coordinate_units", "coordinate_system",
                 "camera_disable_self_calib", "open_timeout_sec", "async_grab_camera_recovery", "sdk_verbose",
                 "optional_settings_path", "_serial")

    def __init__(self) -> None:  # the SDK's defaults that matter here
        self.depth_mode, self.coordinate_units, self.camera_disable_self_calib = DEPTH_MODE.NEURAL, UNIT.METER, False
        self.optional_settings_path, self._serial = "", 0

    def set_from_serial_number(self, serial_number: int) -> None:
        self._serial = serial_number


class RuntimeParameters:
    __slots__ = ("enable_depth",)

    def __init__(self) -> None:
        self.enable_depth = True


class Resolution:
    def __init__(self, width: int = 0, height: int = 0) -> None:
        self.width, self.height = width, height


class CameraParameters:
    def __init__(self, fx, fy, cx, cy) -> None:
        self.fx, self.fy, self.cx, self.cy = fx, fy, cx, cy


class Translation:
    def __init__(self, xyz) -> None:
        self._xyz = np.array(xyz, dtype=np.float32)

    def get(self) -> np.ndarray:
        return self._xyz


class Transform:
    def __init__(self, xyz) -> None:
        self._t = Translation(xyz)

    def get_translation(self) -> Translation:
        return self._t


class CalibrationParameters:
    def __init__(self) -> None:
        self.left_cam = CameraParameters(SCRIPT["fx"], SCRIPT["fy"], SCRIPT["cx"], SCRIPT["cy"])
        self.stereo_transform = Transform(SCRIPT["translation"])


class CameraConfiguration:
    def __init__(self) -> None:
        self.resolution = Resolution(*SCRIPT["size"])
        self.fps = SCRIPT["fps"]
        self.calibration_parameters = CalibrationParameters()


class CameraInformation:
    def __init__(self) -> None:
        self.serial_number = SCRIPT["serial"]
        self.camera_configuration = CameraConfiguration()


class Timestamp:
    def __init__(self, ns: int) -> None:
        self._ns = ns

    def get_nanoseconds(self) -> int:
        return self._ns


class Mat:
    def __init__(self) -> None:
        self._data = np.zeros((0, 0, 4), np.uint8)

    def get_data(self) -> np.ndarray:
        return self._data  # a view of the Mat's own buffer, as get_data(deep_copy=False)


class DeviceProperties:
    def __init__(self) -> None:
        self.serial_number, self.camera_model, self.camera_state = SCRIPT["serial"], "ZED 2", "AVAILABLE"


class Camera:
    def __init__(self) -> None:
        self._open = False
        self._frame = self._tick = 0
        self._t_ns = SCRIPT["t0_ns"]

    def open(self, py_init: InitParameters) -> ERROR_CODE:
        LOG["init"] = {k: getattr(py_init, k, None) for k in InitParameters.__slots__}
        if SCRIPT.get("chatty"):  # like the SDK's console messages: straight to fd 1, below Python
            os.write(1, b"[ZED][Init] stand-in camera opening\n")
        code = ERROR_CODE[SCRIPT["open"]]
        self._open = code.value <= 0  # SUCCESS, or a warning: opened
        return code

    def is_opened(self) -> bool:
        return self._open

    def close(self) -> None:
        LOG["closed"] += 1
        self._open = False

    def grab(self, py_runtime: RuntimeParameters | None = None) -> ERROR_CODE:
        time.sleep(SCRIPT["grab_s"])  # a camera's pace, when the script asks for one
        self._tick += 1  # the camera's clock runs on, frame or not
        if SCRIPT.get("unplugged_while") and os.path.exists(SCRIPT["unplugged_while"]):
            if SCRIPT.get("unplugged_log"):
                with open(SCRIPT["unplugged_log"], "a", encoding="ascii") as f:
                    f.write(f"{time.monotonic()}\n")
            return ERROR_CODE.CAMERA_REBOOTING  # a cable out, with async_grab_camera_recovery: grab returns at once
        grabs = SCRIPT["grabs"]
        code = ERROR_CODE[grabs[min(LOG["grabs"], len(grabs) - 1)]]
        LOG["grabs"] += 1
        if code is ERROR_CODE.SUCCESS:
            self._frame += 1
            self._t_ns = SCRIPT["t0_ns"] + self._tick * 33_333_333
        return code

    def retrieve_image(self, py_mat: Mat, view: VIEW = VIEW.LEFT) -> ERROR_CODE:
        w, h = SCRIPT["size"]
        data = np.empty((h, w, 4), np.uint8)
        data[..., 0], data[..., 1], data[..., 2], data[..., 3] = self._frame % 256, view.value, 7, 255
        py_mat._data = data
        LOG["retrieved"].append(view.name)
        return ERROR_CODE.SUCCESS

    def get_timestamp(self, time_reference: TIME_REFERENCE) -> Timestamp:
        return Timestamp(self._t_ns)  # the grabbed image's: 33.3 ms per grab since open

    def get_camera_information(self) -> CameraInformation:
        return CameraInformation()

    @staticmethod
    def get_sdk_version() -> str:
        return "4.2.5 (stand-in)"

    @staticmethod
    def get_device_list() -> list[DeviceProperties]:
        return [DeviceProperties()]


reset()
