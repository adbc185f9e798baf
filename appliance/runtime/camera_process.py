"""The camera in its own process (capture/child.py), seen from the box as a FrameSource.

Why a process: the ZED SDK's grab() can block for ever after a USB replug, and no thread can
interrupt a C call; a process can be killed. ``ProcessSource`` starts one capture process, reads
its frames from the shared-memory ring (capture/ring.py) and judges it from the ring's heartbeat:

- *hung*: alive, but no heartbeat for ``camera.hang_after_s`` -> SIGKILL, and ``frames()`` raises
  CameraProcessFailed("hung");
- *crashed*: the process exited -> ``frames()`` raises CameraProcessFailed("exit status N");
- *absent*: the device is not there at open -> the constructor raises CaptureAbsent (the capture
  loop retries with backoff; waiting for an absent camera counts no restart), whose ``usb_reset``
  is the zed source's USB-reset note (the ``camera_usb_reset`` event);
- *lost* (no frame while the process beats, like a pulled cable) is judged by the capture loop
  from frame arrival (``camera.lost_after_s``), as for every source.

The capture loop (runtime/stages.py) opens a new ProcessSource after a failure and reports
``camera_restarted`` with the failure as its detail. Enabled by ``capture.process``.

One clock for all of a runtime's capture processes: ``t_origin_ns`` (the synthetic source's clock
origin and the faults' time zero) and ``fired`` (the hang/crash faults that have acted, collected
from each failed process's last lines) are shared by the ProcessSources of one source opener
(runtime/factories.py), so a replacement continues the same clock and is spared the fault that
felled its predecessor.

The synthetic source's ground truth is a pure function of its frame index: it is recomputed here
for each frame (the ring carries images, never the truth), so the simulated model runs behind a
capture process exactly as in-process.
"""
from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

from ..capture.frame_pool import FramePool
from ..capture.ring import RingReader, sweep_stale, unlink_stale
from ..errors import EXIT_CONFIG, AgmaError
from ..frames import RectifiedCalibration, StereoFrame

log = logging.getLogger(__name__)

#: How long the capture process may take to open its source and deliver the first frame, seconds.
OPEN_TIMEOUT_S = 60.0


#: Image blocks a capture reader keeps for reuse: the frames queue (pipeline.queue_frames, default
#: 4), the frame in inference, the one being read, and room for a longer queue or a consumer that
#: holds a few (beyond it a block is allocated and not kept).
POOL_BLOCKS = 16

#: Every capture ring's name starts so: agma-cam-<box pid>-<random>.
RING_PREFIX = "agma-cam-"


class CaptureConfigError(AgmaError):
    """The capture process refused the config (a ConfigError there, already one line): exit 78 here too."""

    exit_code = EXIT_CONFIG


class CaptureAbsent(AgmaError):
    """The capture process found no device at open. usb_reset: what the zed source's USB reset did
    then (capture/usb_reset.py's line, as ZedAbsent carries it in-process); None: nothing."""

    def __init__(self, message: str, usb_reset: str | None = None) -> None:
        super().__init__(message)
        self.usb_reset = usb_reset


class CameraProcessFailed(AgmaError):
    """The capture process hung or exited; ``detail`` says which (the camera_restarted event's detail)."""

    def __init__(self, detail: str) -> None:
        super().__init__("the capture process hung (no heartbeat): killed" if detail == "hung"
                         else f"the capture process exited ({detail})")
        self.detail = detail


class ProcessSource:
    """FrameSource of a capture process (see the module's doc). ``restartable``: the capture loop
    opens a new one after a failure instead of ending."""

    restartable = True

    def __init__(self, cfg, live: bool, t_origin_ns: int, fired: set[str] | None = None) -> None:
        """t_origin_ns: ns since the epoch, the clock origin kept across restarts; fired: the
        ledger of hang/crash faults that have acted (shared with the next ProcessSource; updated
        when this process fails)."""
        self.live, self.t_origin_ns = live, t_origin_ns
        self.hang_after_s = cfg["camera.hang_after_s"]
        removed = sweep_stale(RING_PREFIX)  # rings of capture processes whose box was killed
        if removed:
            log.warning("removed %d capture ring(s) left by a killed box: %s", len(removed), ", ".join(removed))
        self.ring_name = f"{RING_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.fired = set() if fired is None else fired
        desc = {"values": dict(cfg.values), "origins": dict(cfg.origins), "file": cfg.file, "ring": self.ring_name,
                "live": live, "t_origin_ns": t_origin_ns, "fired": sorted(self.fired)}
        self.proc = subprocess.Popen([sys.executable, "-m", "appliance.capture.child"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self.reader: RingReader | None = None
        self.pool: FramePool | None = None  # the reader's image blocks (frames()), for the bench and tests
        self.failure: str | None = None
        self._closed = self._reading = False
        try:
            self.proc.stdin.write(json.dumps(desc) + "\n")
            self.proc.stdin.flush()
            answer = self._first_answer()
            if "absent" in answer:  # a wrong config (a missing SDK) keeps its exit code 78
                if answer.get("config"):
                    raise CaptureConfigError(answer["absent"])
                raise CaptureAbsent(answer["absent"], answer.get("usb_reset"))
            opened = answer["opened"]
            self.reader = RingReader.attach(self.ring_name)
        except BaseException:
            self.close()
            raise
        self.calibration = RectifiedCalibration(**opened["calibration"])
        self.name, self.has_truth, self.fps_nominal = opened["name"], opened["has_truth"], opened["fps"]
        self._truth = None
        if self.name == "synthetic":
            from ..capture.synthetic import SyntheticSource

            self._truth = SyntheticSource(seed=opened["seed"], fps=self.fps_nominal, render=False,
                                          calibration=self.calibration)

    def _first_answer(self) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], OPEN_TIMEOUT_S)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            rc = self.proc.poll()
            raise AgmaError(f"the capture process did not open the camera ({'exit status %s' % rc if rc is not None else 'no answer'})")
        return json.loads(line)

    def set_feeding(self, on: bool) -> None:
        """Ask the process to publish every frame (a session) or only camera.idle_fps of them."""
        try:
            self.proc.stdin.write(json.dumps({"feed": bool(on)}) + "\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):  # the process is gone: frames() says why
            pass

    def frames(self) -> Iterator[StereoFrame]:
        """Frames from the ring until close(); CameraProcessFailed when the process hangs or exits."""
        reader = self.reader
        self._reading = True
        try:
            yield from self._frames(reader)
        finally:  # the reader is closed in the thread that reads it, never under its feet
            self._reading = False
            reader.close()
            self.reader = None

    def _frames(self, reader: RingReader) -> Iterator[StereoFrame]:
        # Each pair is copied out of the ring into a pooled block, reused once nothing refers to
        # its frame any more (capture/frame_pool.py): no new 5.5 MB block per HD720 pair.
        pool = FramePool(reader.height, reader.width, max_blocks=POOL_BLOCKS)
        self.pool = pool
        into = None
        while not self._closed:
            if into is None:
                into = pool.acquire()
            got = reader.newest(into) if self.live else reader.next_in_order(into)
            if got is not None:
                into = None  # the frame owns the block now: the pool takes it back when the frame is gone
                frame = got.to_stereo_frame(self.calibration)
                if self._truth is not None:
                    frame = StereoFrame(index=frame.index, t_ns=frame.t_ns, left=frame.left, right=frame.right,
                                        calibration=frame.calibration, received_mono_ns=frame.received_mono_ns,
                                        truth=self._truth.frame_at(frame.index, frame.t_ns).truth)
                yield frame
                continue
            rc = self.proc.poll()
            if rc is not None:
                self.failure = f"exit status {rc}"
                self._collect_fired()
                raise CameraProcessFailed(self.failure)
            if reader.heartbeat_age_s() > self.hang_after_s:
                self.proc.kill()
                self.proc.wait()
                self.failure = "hung"
                self._collect_fired()
                raise CameraProcessFailed(self.failure)
            time.sleep(0.002)

    def _collect_fired(self) -> None:
        """The dead process's last stdout lines: the injected faults it acted on, into ``fired``."""
        try:
            rest = self.proc.stdout.read()  # the process is gone: EOF follows its last line
        except (OSError, ValueError):
            return
        for line in rest.splitlines():
            try:
                fault = json.loads(line).get("fault")
            except (ValueError, AttributeError):
                continue
            if isinstance(fault, str):
                self.fired.add(fault)

    def close(self) -> None:
        """End the process (EOF on its stdin, then SIGKILL after 2 s) and remove its ring."""
        self._closed = True
        try:
            self.proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.reader is not None and not self._reading:
            self.reader.close()
            self.reader = None
        unlink_stale(self.ring_name)  # the process is gone: its ring's owner is dead
