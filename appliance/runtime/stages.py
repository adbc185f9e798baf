"""The runtime's two stage loops, each in one named thread: capture and inference (the writer is store/writer.py).

capture thread ──(frames queue, pipeline.queue_frames)──▶ inference thread (pose + stereo)
                ──(writer queue, store.queue_frames)──▶ store-writer thread (SQLite)

The capture loop owns the frame source for the whole life of the box: it opens it (retrying with
backoff while the camera is absent), keeps reading frames while idle — their arrival is how camera
health is known — and hands frames to inference only while a session is being fed
(``begin_session``/``end_session``), numbering them by their slot at the nominal rate
(runtime/slots.py). An offline source (``live=False``: replay or --as-fast-as-possible), and any
source of `agma record`, is not read while idle (``read_while_idle=False``): its session starts
with the source's first frame, and nothing would watch the frames before it.

The inference loop builds the pose stage inside its own thread (a CUDA context belongs to one
thread), warms it up, and reports the engine ready; it runs the model only on frames it is
given, so an idle box spends no power on the engine. Live: a full frames queue loses its oldest
frame (counted); offline: every stage waits and nothing is dropped.

Both loops only enqueue events for the control loop (``post``); neither touches the state machine.
"""
from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import AgmaError, ConfigError
from ..frames import StereoFrame
from ..stereo.stage import to_pose3d
from ..stereo.validity import ValidityRules
from . import machine as m
from .camera_process import CaptureConfigError
from .health import Heartbeat, LatencyWindow
from .slots import SlotClock

log = logging.getLogger(__name__)

#: Backoff between attempts to open an absent camera, seconds (the last one repeats).
OPEN_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 10.0)
#: Sources that are cameras: when their frames end (unplugged) the loop reopens them.
CAMERA_SOURCES = ("uvc", "zed")
#: More than this many capture-process failures within restart_window_s (camera.restart_window_s,
#: default RESTART_WINDOW_S) make the camera `error`; the loop then retries every ERROR_RETRY_S
#: (the first good frame clears it).
MAX_RESTARTS, RESTART_WINDOW_S, ERROR_RETRY_S = 5, 60.0, 30.0


@dataclass(frozen=True)
class SourceInfo:
    """What the pose stage needs to know of the source it will see (the simulated model needs truth)."""

    name: str
    has_truth: bool
    fps_nominal: float
    #: The source's clock origin (ns since the epoch) when it keeps one (the synthetic source, the
    #: capture process): sim.faults' time zero, for the simulated model's engine_hang.
    t_origin_ns: int | None = None


class SessionFeed:
    """One session's frames on their way to inference: its row id, slot clock and frame budget.

    Owned by the capture loop while it is current; counters read by the control loop.
    """

    def __init__(self, session_db_id: int, fps: float, max_frames: int | None) -> None:
        self.session_db_id = session_db_id
        self.clock = SlotClock(fps)
        self.max_frames = max_frames
        self.accepted = 0          # frames handed to inference
        self.dropped_capture = 0   # live: oldest frames dropped from the full frames queue
        self.full = False          # max_frames reached: DurationReached posted


class _Drain:
    """A marker put behind the session's frames: the inference loop sets ``done`` when it reaches it."""

    def __init__(self) -> None:
        self.done = threading.Event()


class CaptureLoop:
    """Owns the frame source; thread ``capture``."""

    name = "capture"

    def __init__(self, open_source: Callable[[], object], post: Callable[[m.Event], None], live: bool,
                 queue_frames: int, lost_after_s: float, read_while_idle: bool = True,
                 restart_window_s: float = RESTART_WINDOW_S) -> None:
        self._open_source, self.post, self.live = open_source, post, live
        #: False: the source is read only while a session is fed (offline work, `agma record`: the
        #: session starts with the source's first frame); True: the daemon, whose camera health is
        #: known from frames arriving while idle.
        self.read_while_idle = read_while_idle and live
        self.frames: queue.Queue = queue.Queue(maxsize=queue_frames)
        self.lost_after_s = lost_after_s
        self.restart_window_s = restart_window_s
        self.source = None
        self.source_info: SourceInfo | None = None
        self.source_ready = threading.Event()  # set once a source has opened (or opening failed for good)
        self.source_opens = 0
        self.last_frame_mono: float | None = None
        self.frames_seen = 0
        self.ended = False  # the source ended for good (a replay, a bounded synthetic source)
        self._feed: SessionFeed | None = None
        self._feed_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # offline: a session began
        self._thread = threading.Thread(target=self._run, name=self.name)
        self._closer: threading.Thread | None = None

    # -- the control loop's side ---------------------------------------------------------------------------
    def open_first(self, wait_absent: bool = False) -> None:
        """Open the source once in the caller's thread, so that a wrong config fails at start (raises).

        wait_absent (the daemon): a camera that is not there is a condition, not a failure — it is
        reported (CameraAbsent) and the capture thread keeps retrying with backoff, so a box that
        boots without its camera stays up instead of start-looping. A config error still raises."""
        try:
            self._open()
        except (ConfigError, CaptureConfigError):
            raise
        except Exception as exc:
            if not wait_absent:
                raise
            self.post(m.CameraAbsent(str(exc), getattr(exc, "usb_reset", None)))
            log.warning("camera: cannot open the source at start (%s); waiting for it", exc)

    def start(self) -> None:
        self._thread.start()

    def begin_session(self, feed: SessionFeed) -> None:
        with self._feed_lock:  # under the lock: the capture thread tells a new source the same
            self._feed = feed
            self._set_feeding(True)
        self._wake.set()

    def _set_feeding(self, on: bool) -> None:
        """A capture process publishes every frame only while a session is fed (camera.idle_fps else)."""
        set_feeding = getattr(self.source, "set_feeding", None)
        if set_feeding is not None:
            set_feeding(on)

    def end_session(self, room_timeout_s: float) -> _Drain:
        """Stop feeding frames to the session; -> a marker the inference loop reaches after the last one.

        The marker waits up to room_timeout_s for room behind the session's frames; a stalled
        inference that makes none by then loses the oldest queued frames (counted as dropped)."""
        with self._feed_lock:  # after this no frame of the session is put anymore
            self._feed = None
            self._wake.clear()
            self._set_feeding(False)
        marker = _Drain()
        try:
            self.frames.put(marker, timeout=room_timeout_s)
            return marker
        except queue.Full:
            pass
        while True:
            try:
                self.frames.put_nowait(marker)
                return marker
            except queue.Full:
                try:
                    old = self.frames.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(old, _Drain):
                    old.done.set()
                else:
                    old[0].dropped_capture += 1

    def camera_fresh(self, now_mono: float) -> bool:
        """Whether the camera counts as delivering: a frame within lost_after_s; a source read only
        for sessions counts as there while nothing reads it."""
        if not self.read_while_idle and (self._feed is None or self.last_frame_mono is None):
            return True
        return self.last_frame_mono is not None and now_mono - self.last_frame_mono <= self.lost_after_s

    def stop(self) -> None:
        """Ask the loop to end and close the source from a helper thread (a blocked grab must not block us)."""
        self._stop.set()
        self._wake.set()
        src = self.source
        if src is not None and self._closer is None:
            self._closer = threading.Thread(target=src.close, name="capture-close")
            self._closer.start()

    def threads(self) -> list[threading.Thread]:
        return [t for t in (self._thread, self._closer) if t is not None and t.ident is not None]

    # -- the capture thread ------------------------------------------------------------------------------------
    def _open(self) -> None:
        src = self._open_source()
        self.source = src
        self.source_opens += 1
        self.source_info = SourceInfo(src.name, bool(src.has_truth), float(src.fps_nominal),
                                      getattr(src, "t_origin_ns", None))
        self.source_ready.set()

    def _run(self) -> None:
        attempt = 0
        failures: list[float] = []  # monotonic times of capture-process failures (hung, crashed)
        restart_detail = None
        try:
            while not self._stop.is_set():
                if self.source is None:
                    try:
                        self._open()
                        attempt = 0
                    except ConfigError:
                        raise
                    except Exception as exc:  # absent camera: a condition, retried with backoff
                        self.post(m.CameraAbsent(str(exc), getattr(exc, "usb_reset", None)))
                        delay = OPEN_BACKOFF_S[min(attempt, len(OPEN_BACKOFF_S) - 1)]
                        attempt += 1
                        log.warning("camera: cannot open the source (%s); retrying in %.0f s", exc, delay)
                        self._stop.wait(delay)
                        continue
                    with self._feed_lock:  # a new capture process publishes every frame until told
                        self._set_feeding(self._feed is not None)
                    if restart_detail is not None:
                        self.post(m.CameraRestarted(restart_detail))
                        restart_detail = None
                self._read(self.source)
                if self._stop.is_set():
                    break
                failure = getattr(self.source, "failure", None)
                if getattr(self.source, "restartable", False) or self.source_info.name in CAMERA_SOURCES:
                    self._close_source()
                    if failure is not None:  # the capture process hung or crashed: a new one at once
                        now = time.monotonic()
                        failures = [t for t in failures if now - t < self.restart_window_s] + [now]
                        restart_detail = failure
                        if len(failures) > MAX_RESTARTS:
                            self.post(m.CameraFailed(f"{len(failures)} capture-process failures within "
                                                     f"{self.restart_window_s:g} s (last: {failure})"))
                            failures.clear()
                            self._stop.wait(ERROR_RETRY_S)
                    continue
                self.ended = True
                log.info("capture: the %s source has no more frames", self.source_info.name)
                self.post(m.CameraAbsent("the source has no more frames"))
                self.post(m.DurationReached())
                break
        except BaseException as exc:
            log.error("capture failed: %s", exc)
            self.post(m.CameraFailed(f"{type(exc).__name__}: {exc}"))
        finally:
            self.source_ready.set()

    def _close_source(self) -> None:
        src, self.source = self.source, None
        try:
            src.close()
        except Exception as exc:
            log.warning("capture: closing the source failed: %s", exc)

    def _read(self, src) -> None:
        try:
            it = src.frames()
            while not self._stop.is_set():
                feed = self._feed
                if not self.read_while_idle and (feed is None or feed.full):  # read only for a session
                    self._wake.wait(0.5) if feed is None else self._stop.wait(0.05)
                    continue
                try:
                    frame = next(it)
                except StopIteration:
                    return
                self.last_frame_mono = time.monotonic()
                self.frames_seen += 1
                self._offer(frame)
        except AgmaError as exc:  # the camera stopped delivering (unplugged): lost, then reopened
            log.warning("camera: %s", exc)
            self.post(m.CameraLost(str(exc)))

    def _offer(self, frame: StereoFrame) -> None:
        with self._feed_lock:
            feed = self._feed
            if feed is None or feed.full:
                return
            frame = dataclasses.replace(frame, index=feed.clock.index(frame.t_ns))
            feed.accepted += 1
            if feed.max_frames is not None and feed.accepted >= feed.max_frames:
                feed.full = True
            if self.live:
                self._put_dropping_oldest((feed, frame), feed)
            else:
                while not self._stop.is_set():
                    try:
                        self.frames.put((feed, frame), timeout=0.5)
                        break
                    except queue.Full:
                        continue
        if feed.full:
            log.info("session reached its longest duration (%d frames)", feed.max_frames)
            self.post(m.DurationReached())

    def _put_dropping_oldest(self, item, feed: SessionFeed) -> None:
        """Live: never wait; a full queue loses its oldest frame (counted)."""
        while True:
            try:
                self.frames.put_nowait(item)
                return
            except queue.Full:
                try:
                    old = self.frames.get_nowait()
                except queue.Empty:
                    continue
                if isinstance(old, _Drain):  # never lose a marker: put it back first
                    self.frames.put_nowait(old)
                    return
                old[0].dropped_capture += 1


class InferenceLoop:
    """Owns the pose stage; thread ``inference``. Builds and warms the engine, then estimates on demand."""

    name = "inference"

    def __init__(self, build_pose: Callable[[SourceInfo], object], source_ready: threading.Event,
                 source_info: Callable[[], SourceInfo | None], frames: queue.Queue, rules: ValidityRules,
                 writer: Callable[[], object], post: Callable[[m.Event], None], live: bool) -> None:
        self._build_pose, self._source_ready, self._source_info = build_pose, source_ready, source_info
        self.frames, self.rules, self._writer, self.post, self.live = frames, rules, writer, post, live
        self.heartbeat = Heartbeat(self.name)
        self.pose = None
        self.engine_loads = 0
        self.build_error: BaseException | None = None
        self.processed = 0
        #: per stage, the last frames' durations (ms): the pose estimate, and capture to 3D
        self.latency = {"pose": LatencyWindow(), "capture_to_3d": LatencyWindow()}
        self.session_joints = self.session_valid_joints = 0  # of the open session's frames
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def threads(self) -> list[threading.Thread]:
        return [self._thread] if self._thread.ident is not None else []

    def reset_tracking(self) -> None:
        """A new session starts without the previous one's tracked crops (called before frames flow)."""
        self.session_joints = self.session_valid_joints = 0
        reset = getattr(self.pose, "reset", None)
        if reset is not None:
            reset()

    def _load(self) -> bool:
        while not self._source_ready.wait(0.5):
            self.heartbeat.beat()
            if self._stop.is_set():
                return False
        info = self._source_info()
        if info is None:
            return False
        try:
            pose = self._build_pose(info)
            warm_up = getattr(pose, "warm_up", None)
            if warm_up is not None:
                warm_up()
        except BaseException as exc:  # reported once, by the runtime (a log line) or `agma record` (its error line)
            self.build_error = exc
            self.post(m.EngineFailed(str(exc)))
            return False
        self.pose = pose
        self.engine_loads += 1
        self.post(m.EngineReady())
        return True

    def _run(self) -> None:
        if not self._load():
            self._drop_all()
            return
        try:
            self._infer_all()
        finally:  # the engine is opened, warmed up and closed in this thread, once per box
            close = getattr(self.pose, "close", None)
            if close is not None:
                try:
                    close()
                except Exception as exc:  # nothing left to save: say so and end
                    log.warning("closing the pose engine failed: %s", exc)

    def _infer_all(self) -> None:
        for feed, frame in self._items():
            try:
                t0 = time.monotonic_ns()
                left, right = self.pose.estimate(frame)
                self.latency["pose"].add((time.monotonic_ns() - t0) / 1e6)
                pose3d = to_pose3d(frame, left, right, self.rules)
            except Exception as exc:
                log.error("inference failed on frame %d: %s", frame.index, exc)
                self.post(m.EngineFailed(f"{type(exc).__name__}: {exc}"))
                self._drop_all()
                return
            self.processed += 1
            self.latency["capture_to_3d"].add(pose3d.latency_ms)
            self.session_joints += len(pose3d.invalid_reason)
            self.session_valid_joints += pose3d.valid_joints
            self.heartbeat.beat()
            writer = self._writer()
            if writer is not None:
                writer.offer(feed.session_db_id, pose3d, wait=not self.live)

    def _items(self):
        """(feed, frame) items until stop(); beats on every turn (a wait has a timeout) and answers
        the drain markers behind each session's frames."""
        while not self._stop.is_set():
            self.heartbeat.beat()
            try:
                item = self.frames.get(timeout=0.25)
            except queue.Empty:
                continue
            if isinstance(item, _Drain):
                item.done.set()
                continue
            yield item

    def _drop_all(self) -> None:
        """Without an engine: drop frames, answer drain markers so that sessions still close."""
        for _ in self._items():
            pass
