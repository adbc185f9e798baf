"""Wires the stages into threads with bounded queues between them.

capture thread --(queue, pipeline.queue_frames)--> inference thread (pose + stereo)
               --(writer queue, store.queue_frames)--> writer thread (SQLite)

A live source (``live=True``) never waits: when inference falls behind, the oldest queued frame
is dropped; when the writer's queue is full, the new frame is dropped; both are counted. Offline
work (``live=False``, --as-fast-as-possible) waits at every queue and drops nothing.

``max_frames`` bounds a session the source would not end by itself (the disk guard reserved room
for that many; it ends as ``duration``). When the writer reports the disk full, the source is
stopped and the session ends as ``disk_full`` after the frames in flight are stored.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .capture.source import FrameSource
from .pose.stage import PoseStage
from .stereo.stage import to_pose3d
from .stereo.validity import ValidityRules
from .store.writer import StoreWriter

log = logging.getLogger(__name__)
_END = object()


@dataclass(frozen=True)
class Progress:
    captured: int
    stored: int
    dropped: int
    elapsed_s: float


@dataclass
class PipelineResult:
    end_reason: str  # "duration" when the source ran out or max_frames was reached, "stopped"/"shutdown" when asked, "disk_full", "error"
    captured: int
    dropped: int
    elapsed_s: float
    error: str | None = None


class Pipeline:
    def __init__(self, source: FrameSource, pose: PoseStage, rules: ValidityRules, writer: StoreWriter,
                 session_id: int, live: bool, queue_frames: int = 4, max_frames: int | None = None) -> None:
        self.source, self.pose, self.rules, self.writer = source, pose, rules, writer
        self.session_id, self.live = session_id, live
        self.max_frames = max_frames
        self._frames: queue.Queue = queue.Queue(maxsize=queue_frames)
        self._captured = 0
        self._capture_dropped = 0
        self._lock = threading.Lock()
        self._error: str | None = None
        self._stop_reason: str | None = None
        self._done = threading.Event()

    @property
    def dropped(self) -> int:
        with self._lock:
            return self._capture_dropped + self.writer.dropped_frames

    def request_stop(self, reason: str) -> None:
        """Ask the session to end (signal handlers call this): the source stops, queued frames are stored."""
        if self._stop_reason is None:
            self._stop_reason = reason
        self.source.close()

    def _capture(self) -> None:
        try:
            for frame in self.source.frames():
                with self._lock:
                    self._captured += 1
                    last = self.max_frames is not None and self._captured >= self.max_frames
                if self.live:
                    self._put_dropping_oldest(frame)
                else:
                    self._frames.put(frame)
                if last:
                    log.info("session reached its longest duration (%d frames)", self.max_frames)
                    break
        except BaseException as exc:  # a source failure ends the session as an error
            log.exception("capture failed")
            self._error = self._error or f"capture: {exc}"
        finally:
            self._frames.put(_END)

    def _put_dropping_oldest(self, frame) -> None:
        """Live: never wait; a full queue loses its oldest frame (counted), the newest matters for a live view."""
        while True:
            try:
                self._frames.put_nowait(frame)
                return
            except queue.Full:
                try:
                    self._frames.get_nowait()
                    with self._lock:
                        self._capture_dropped += 1
                except queue.Empty:
                    pass

    def _infer(self) -> None:
        try:
            while True:
                frame = self._frames.get()
                if frame is _END:
                    break
                if self._error is not None:
                    continue
                left, right = self.pose.estimate(frame)
                pose3d = to_pose3d(frame, left, right, self.rules)
                self.writer.offer(self.session_id, pose3d, wait=not self.live)
                if self.writer.disk_full:
                    self.request_stop("disk_full")
                elif self.writer.error is not None:
                    self._error = f"store: {self.writer.error}"
                    self.source.close()
        except BaseException as exc:
            log.exception("inference failed")
            self._error = f"pose: {exc}"
            self.source.close()
            while self._frames.get() is not _END:  # let the capture thread finish
                pass
        finally:
            self._done.set()

    def run(self, on_progress: Callable[[Progress], None] | None = None, progress_every_s: float = 1.0) -> PipelineResult:
        t0 = time.monotonic()
        threads = [threading.Thread(target=self._capture, name="capture", daemon=True),
                   threading.Thread(target=self._infer, name="inference", daemon=True)]
        for t in threads:
            t.start()
        while not self._done.wait(progress_every_s):
            if on_progress is not None:
                on_progress(Progress(self._captured, self.writer.stored_frames, self.dropped, time.monotonic() - t0))
        for t in threads:
            t.join()
        reason = "error" if self._error else (self._stop_reason or "duration")
        return PipelineResult(end_reason=reason, captured=self._captured, dropped=self.dropped,
                              elapsed_s=time.monotonic() - t0, error=self._error)
