"""The capture process: `python -m appliance.capture.child`, one per box runtime, started by the parent
(runtime/camera_process.py) as a fresh interpreter (never a fork: a forked child of a
CUDA-initialised parent cannot use CUDA).

Protocol (JSON lines): the parent writes one description on stdin — the config's values, the
ring's name, whether the source is live, the wall-clock origin of the camera's clock and of the
faults (kept across restarts), the hang/crash faults that have already fired — then
``{"feed": true|false}`` lines; the child answers one line on stdout,
``{"opened": {...calibration, name, has_truth, fps}}`` or ``{"absent": "<why>", "config": bool,
"usb_reset": "<note>" | null}`` (config: the source refused its configuration, a ConfigError,
rather than found no device; usb_reset: what the zed source's USB reset did, its error's
``usb_reset``, for the runtime's ``camera_usb_reset`` event), and
``{"fault": "<KIND@START+DURATION>"}`` right before it hangs or crashes by an injected fault.
Frames then go through the shared-memory ring (capture/ring.py), never through the pipe. The pipe
carries the protocol alone: the child moves it off fd 1 at start, and fd 1 goes to stderr, where
a vendor library's console output (the ZED SDK's) then lands. A source with an ``on_alive``
attribute (the zed source) gets the ring's heartbeat there: it beats after every grab that
returns, frame or not, so a camera that is rebooting reads as lost, not hung.

The clock (capture/faults.py): the synthetic source runs on the origin's clock (its frame ``i`` is
captured at ``t_origin_ns + i / fps``), so a restarted child continues the same clock and frame
counter, and faults act on the delivered frame's own time.

The child dies with its parent: EOF on stdin (the parent closed it or died) ends it, and
PR_SET_PDEATHSIG (SIGKILL) covers a parent killed while the child is stuck in a device call.
While not fed, it keeps grabbing but publishes at ``camera.idle_fps`` (camera health stays known
without pushing 5.5 MB frame pairs through the ring all day); until the parent's first feed line
it publishes every frame (a child started during a session loses none before it is told).
``sim.faults`` are applied here.
"""
from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import signal
import sys
import threading
import time

from ..errors import AgmaError, ConfigError
from .faults import CRASH_STATUS, parse_faults

PR_SET_PDEATHSIG = 1
#: The ring's slots: enough for a reader that is a few frames behind.
RING_SLOTS = 4


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: stdin's EOF still ends the child
        pass


#: The protocol's stream: the parent's pipe, moved off fd 1 by _own_stdout (None until then: sys.stdout).
_PROTOCOL = None


def _own_stdout() -> None:
    """Keep the parent's pipe for the protocol alone: a vendor library writing to fd 1 (the ZED SDK's
    console messages) would otherwise put a line the parent cannot read into it. The pipe moves to a
    new fd; fd 1 (and sys.stdout) then go to stderr."""
    global _PROTOCOL
    sys.stdout.flush()
    _PROTOCOL = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)


def _say(obj) -> None:
    out = _PROTOCOL or sys.stdout
    out.write(json.dumps(obj) + "\n")
    out.flush()


class _Control:
    """The parent's lines after the description: feeding on/off; EOF ends the process."""

    def __init__(self) -> None:
        self.feeding: bool | None = None  # None: not told yet (publish every frame)
        self._thread = threading.Thread(target=self._run, name="capture-control", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in sys.stdin:
            try:
                self.feeding = bool(json.loads(line).get("feed"))
            except (ValueError, AttributeError):
                continue
        os._exit(0)  # the parent closed our stdin or died: a clean stop (the ring is the parent's to unlink)


def main() -> int:
    _die_with_parent()
    _own_stdout()
    desc = json.loads(sys.stdin.readline())
    from ..config import Config

    cfg = Config(values=desc["values"], origins=desc["origins"], file=desc.get("file"))
    faults = parse_faults(cfg["sim.faults"])
    t_origin_ns = int(desc["t_origin_ns"])
    fired = frozenset(desc.get("fired", ()))

    def since_origin() -> float:
        return (time.time_ns() - t_origin_ns) / 1e9

    if any(f.kind == "absent" and f.active(since_origin()) for f in faults):
        _say({"absent": "camera absent (fault injected)"})
        return 0
    from . import open_source
    from .ring import FrameRing

    try:
        source = open_source(cfg, None, not desc["live"])
    except Exception as exc:  # the device is not there: the parent retries with backoff
        # an AgmaError is already one line for people (the zed source's "pyzed is not installed ..."); others
        # keep their type; "config": the config is wrong (nothing to wait for: a missing SDK, a bad rate)
        _say({"absent": str(exc) if isinstance(exc, AgmaError) else f"{type(exc).__name__}: {exc}",
              "config": isinstance(exc, ConfigError), "usb_reset": getattr(exc, "usb_reset", None)})
        return 0
    cal = source.calibration
    on_origin = hasattr(source, "t_origin_ns")  # the synthetic source: it runs on the origin's clock
    if on_origin:
        source.t_origin_ns = t_origin_ns
    ring = None  # made at the first frame, the size of its images (1x1 for an unrendered simulation)
    control = None
    idle_period_s = 1.0 / float(cfg["camera.idle_fps"])
    last_publish = 0.0
    try:
        for frame in source.frames():
            if ring is None:
                h, w = frame.left.shape[:2]
                ring = FrameRing.create(desc["ring"], RING_SLOTS, w, h)
                _say({"opened": {"calibration": dataclasses.asdict(cal), "name": source.name,
                                 "has_truth": bool(source.has_truth), "fps": float(source.fps_nominal),
                                 "seed": cfg["sim.seed"]}})
                control = _Control()
                if hasattr(source, "on_alive"):  # the zed source: every grab that returns beats, frame or not
                    source.on_alive = ring.beat
            # the frame's own time on the origin's clock (else the wall clock's): a slow process
            # cannot deliver a frame captured inside a fault after the fault's end
            now_s = (frame.t_ns - t_origin_ns) / 1e9 if on_origin else since_origin()
            for f in faults:
                if f.kind in ("crash", "hang") and f.active(now_s, fired):
                    _say({"fault": f.text()})  # before acting: the replacement is spared
                    if f.kind == "crash":
                        os._exit(CRASH_STATUS)
                    while True:  # blocked in grab for ever, no heartbeat: only SIGKILL ends this
                        time.sleep(3600)
            ring.beat()
            if any(f.kind == "stop" and f.active(now_s) for f in faults):
                continue  # the cable is out: no frame, but the process is alive (its clock runs on)
            mono = time.monotonic()
            if control.feeding is False and mono - last_publish < idle_period_s:
                continue
            ring.publish(frame.index, frame.t_ns, frame.left, frame.right)
            last_publish = mono
    finally:
        if ring is not None:
            ring.close(unlink=False)  # the parent unlinks it (it outlives this process's frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
