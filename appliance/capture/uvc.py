"""The ZED 2 as a plain UVC camera (no ZED SDK): OpenCV capture + the factory calibration file.

Over UVC the ZED delivers one side-by-side image per frame, both eyes raw (distorted,
unrectified): 2560x720 at HD720 (2 x 1280 by 720), left half = left eye. This source splits it,
rectifies both halves with the camera's ``SN<serial>.conf`` (:mod:`.rectify`), and stamps each
frame with ``time.time_ns()`` taken as soon as ``grab()`` returns (UVC through OpenCV gives no
camera clock). Frame indices count delivered frames from 0 and never go back.

The device is an OpenCV index (``0``) or a path (``/dev/video0``), both opened with the V4L2
backend; any other string (a video file, a GStreamer pipeline where OpenCV has it) is opened
with OpenCV's automatic backend choice, which lets tests stand a side-by-side video file in for
the camera.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..errors import AgmaError
from ..frames import StereoFrame
from .rectify import rectifier_from_file
from .zed_calibration import canonical_resolution, installed_calibration

log = logging.getLogger(__name__)

#: ZED frame rates over UVC per resolution (the first is the default we ask for).
UVC_FPS = {"HD720": (30, 60, 15), "FHD": (30, 15), "2K": (15,), "VGA": (100, 60, 30, 15)}


def _open_capture(device: int | str):
    import cv2

    if isinstance(device, str) and device.strip().lstrip("-").isdigit():
        device = int(device)
    if isinstance(device, int) or str(device).startswith("/dev/"):
        cap = cv2.VideoCapture(device, cv2.CAP_V4L2)
    else:
        cap = cv2.VideoCapture(str(device))
    return cap


class UvcSource:
    """FrameSource of a ZED 2 seen as a UVC camera.

    device: OpenCV index or /dev/video path (or a side-by-side video file, for tests).
    calibration_path: the camera's SN<serial>.conf; None or "" takes the one installed in the
    state directory (``agma calib install``). resolution: HD720 | FHD | 2K | VGA.
    fps: frame rate to ask the camera for (default: 30 at HD720/FHD).
    """

    name = "uvc"
    has_truth = False
    paced = True

    def __init__(
        self,
        device: int | str,
        calibration_path: str | Path | None,
        resolution: str = "HD720",
        fps: float | None = None,
        state_dir: str | Path | None = None,
    ) -> None:
        import cv2

        res = canonical_resolution(resolution)
        path = Path(calibration_path) if calibration_path else installed_calibration(state_dir)
        # the calibration first: a broken file is a configuration error (exit 78) even without a camera
        self.rectifier = rectifier_from_file(path, res.name, source=self.name)
        self.calibration = self.rectifier.calibration
        self.device = device
        self.fps_nominal = float(fps if fps is not None else UVC_FPS[res.name][0])
        self._w, self._h = res.width, res.height
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._cap = _open_capture(device)
        if not self._cap.isOpened():
            self._cap.release()
            raise AgmaError(
                f"cannot open the ZED as a UVC camera at {device!r} (capture.device): is it plugged in, "
                "is the index or path right, and may this user read it (group 'video')?"
            )
        self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, 2 * self._w)
        self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._h)
        self._cap.set(cv2.CAP_PROP_FPS, self.fps_nominal)
        got_w = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        got_h = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if (got_w, got_h) != (2 * self._w, self._h):
            self._cap.release()
            raise AgmaError(
                f"{device!r} delivers {got_w}x{got_h}, not the {2 * self._w}x{self._h} side-by-side stream of a ZED "
                f"at {res.name}: is this device a ZED, and does capture.resolution match?"
            )
        got_fps = self._cap.get(cv2.CAP_PROP_FPS)
        if got_fps and abs(got_fps - self.fps_nominal) > 0.5:
            log.warning("%r runs at %.1f fps, not the %.1f asked for", device, got_fps, self.fps_nominal)
        if self.calibration.serial == "unknown":
            log.warning("calibration %s does not name its serial (SN<serial>.conf)", path)

    def frames(self) -> Iterator[StereoFrame]:
        """Rectified frames from index 0 until close(); AgmaError when the camera stops delivering."""
        index = 0
        w = self._w
        while not self._closed.is_set():
            with self._lock:
                if self._closed.is_set():
                    break
                ok = self._cap.grab()
                t_ns = time.time_ns()
                ok, sbs = self._cap.retrieve() if ok else (False, None)
            if not ok or sbs is None:
                if self._closed.is_set():
                    break
                raise AgmaError(f"the UVC camera {self.device!r} stopped delivering frames after {index} (unplugged?)")
            if sbs.shape[:2] != (self._h, 2 * w):
                raise AgmaError(f"the UVC camera {self.device!r} delivered a {sbs.shape[1]}x{sbs.shape[0]} frame")
            if sbs.ndim == 2:  # a grey or undecoded stream; the pose stage wants BGR
                import cv2

                sbs = cv2.cvtColor(sbs, cv2.COLOR_GRAY2BGR)
            left, right = self.rectifier.rectify(sbs[:, :w], sbs[:, w:])
            yield StereoFrame(
                index=index, t_ns=t_ns, left=np.ascontiguousarray(left), right=np.ascontiguousarray(right),
                calibration=self.calibration, received_mono_ns=time.monotonic_ns(),
            )
            index += 1

    def close(self) -> None:
        """Stop frames() and release the device (waits for a grab in progress, at most one frame)."""
        self._closed.set()
        with self._lock:
            self._cap.release()
