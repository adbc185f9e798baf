"""A ZED whose link is down (grab returns CAMERA_REBOOTING) keeps its capture process beating: lost, never killed as hung.

Why: with async_grab_camera_recovery the SDK answers grab() at once while it reconnects; the
capture process (capture/child.py) must then keep its heartbeat, or the supervisor would SIGKILL
a healthy process at every unplug and count a restart. The zed source calls ``on_alive`` after
every grab that returns and the child points it at the ring's heartbeat. This runs the real
capture process (runtime/camera_process.py ProcessSource, `python -m appliance.capture.child`)
with the stand-in pyzed of tests/capture/fake_pyzed: frames, then a file that makes grab return
CAMERA_REBOOTING until the stand-in has been rebooting for more than camera.hang_after_s (its own
grabs, logged with time.monotonic(), say so: a state, not a sleep), then frames again from the
same process, with no failure in between. The stand-in also writes a console line to fd 1 at
open, as the SDK does: the child keeps its protocol pipe off fd 1, so the parent still reads it.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from appliance import config
from appliance.runtime.camera_process import ProcessSource
from tests.helpers import wait_until

FAKE = Path(__file__).resolve().parent / "fake_pyzed"
HANG_AFTER_S = 3.0  # camera.hang_after_s's default


def test_rebooting_grabs_beat_and_frames_resume_in_the_same_process(tmp_path, monkeypatch):
    flag, log = tmp_path / "unplugged", tmp_path / "rebooting.log"
    monkeypatch.setenv("PYTHONPATH", str(FAKE))  # the capture process imports the stand-in as pyzed
    monkeypatch.setenv("FAKE_PYZED_SCRIPT", json.dumps({"size": [672, 376], "grab_s": 0.01,
                                                        "unplugged_while": str(flag), "unplugged_log": str(log),
                                                        "chatty": True}))
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "state"))
    cfg = config.load(environ={"AGMA_CAPTURE__SOURCE": "zed", "AGMA_CAPTURE__RESOLUTION": "VGA",
                               "AGMA_CAPTURE__USB_RESET_AFTER_S": "0",
                               "AGMA_CAMERA__HANG_AFTER_S": str(HANG_AFTER_S)})
    source = ProcessSource(cfg, live=True, t_origin_ns=time.time_ns())
    frames: list[int] = []
    errors: list[BaseException] = []

    def consume():
        try:
            for f in source.frames():
                frames.append(f.t_ns)
        except BaseException as exc:  # CameraProcessFailed would land here
            errors.append(exc)

    reader = threading.Thread(target=consume, name="test-consume", daemon=True)
    reader.start()
    try:
        assert source.name == "zed" and source.calibration.source == "zed_sdk"
        wait_until(lambda: len(frames) >= 3, "frames from the capture process")
        pid = source.proc.pid
        flag.touch()

        def rebooting_span_s() -> float:
            stamps = [float(x) for x in log.read_text(encoding="ascii").split()] if log.exists() else []
            return stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0

        wait_until(lambda: errors or rebooting_span_s() > HANG_AFTER_S + 1.0,
                   "the stand-in rebooting for longer than hang_after_s")
        assert errors == []
        before = len(frames)
        flag.unlink()
        wait_until(lambda: errors or len(frames) > before + 2, "frames again after the link came back")
        assert errors == [] and source.failure is None
        assert source.proc.pid == pid and source.proc.poll() is None  # the same process throughout
    finally:
        source.close()
        reader.join(timeout=30)
