"""The session state machine and the recorder that runs one session from config to summary.

States: idle -> recording -> stopping -> ended. A session ends with one reason from
store.schema.END_REASONS: duration (the requested length was reached), stopped (a person asked,
Ctrl-C), shutdown (SIGTERM, the box going down), error, interrupted (found open after a crash),
disk_full.

Around the session the recorder keeps the store's promises (docs/durability.md): the disk guard
refuses a start the disk cannot hold; the writer takes the database's write lock (a second
recorder is refused), migrates an old file and closes the sessions a crashed recorder left open;
a session whose disk fills up ends as disk_full. Resuming an interrupted recording
(``RecordRequest.resume``) is for the daemon only; ``agma record`` never resumes.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .joints import NUM_JOINTS
from .pipeline import Pipeline, Progress
from .stereo.report import session_accuracy
from .stereo.validity import ValidityRules
from .store import diskguard, recovery
from .store import sessions as store_sessions
from .store.dump import pending_dump_dir, write_pending_dump
from .store.writer import StoreWriter

log = logging.getLogger(__name__)


class State(enum.Enum):
    IDLE = "idle"
    RECORDING = "recording"
    STOPPING = "stopping"
    ENDED = "ended"


_ALLOWED = {
    State.IDLE: {State.RECORDING},
    State.RECORDING: {State.STOPPING, State.ENDED},
    State.STOPPING: {State.ENDED},
    State.ENDED: set(),
}


class SessionStateMachine:
    """Guards the order of a session's life; an illegal transition is a programming error."""

    def __init__(self) -> None:
        self.state = State.IDLE
        self._lock = threading.Lock()

    def to(self, new: State) -> None:
        with self._lock:
            if new not in _ALLOWED[self.state]:
                raise RuntimeError(f"session cannot go from {self.state.value} to {new.value}")
            self.state = new


@dataclass(frozen=True)
class RecordRequest:
    """What `agma record` asks for beyond the config: length and pacing."""

    duration_s: float | None
    as_fast_as_possible: bool
    #: Continue a recording interrupted less than store.resume_after_crash_s ago (recovery.resume_target)
    #: as a new session pointing to it. The daemon's choice after a crash; `agma record` leaves it False.
    resume: bool = False


class Recorder:
    """Runs one session: opens the store, starts the stages, ends the session, reports."""

    def __init__(self, cfg, source, pose, request: RecordRequest) -> None:
        self.cfg, self.source, self.pose, self.request = cfg, source, pose, request
        self.machine = SessionStateMachine()
        self.pipeline: Pipeline | None = None
        self._pending_stop: str | None = None

    def request_stop(self, reason: str) -> None:
        """Signal-safe: end the session with this reason (stopped, shutdown)."""
        if self.pipeline is not None:
            self.pipeline.request_stop(reason)
        else:
            self._pending_stop = reason

    def max_frames(self) -> tuple[int, str]:
        """The most frames this session may store, and what sets it (--duration or store.max_session_s)."""
        fps = self.source.fps_nominal
        if self.request.duration_s is not None:
            return int(round(fps * self.request.duration_s)), "--duration"
        return int(round(fps * self.cfg["store.max_session_s"])), "store.max_session_s"

    def _write_pending_dump(self, db_path: Path, uid: str, end_reason: str) -> Path | None:
        """The ended session's dump, waiting to be pulled (store.dump_dir); None when off or impossible.

        A failure is logged, never fatal: the session is safe in the database, and `agma dump
        --new` catches up. Not attempted on a full disk."""
        dump_dir = pending_dump_dir(self.cfg)
        if dump_dir is None or end_reason == "disk_full":
            return None
        try:
            return write_pending_dump(db_path, uid, dump_dir)
        except Exception as exc:
            log.error("dump of session %s to %s failed: %s (agma dump --new catches up)", uid, dump_dir, exc)
            return None

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
        cfg = self.cfg
        db_path: Path = cfg.db_path
        max_frames, limit_from = self.max_frames()
        diskguard.check_start(db_path, cfg["store.min_free_mb"], max_frames, limit_from=limit_from)
        writer = StoreWriter(db_path, cfg["store.commit_interval_s"], cfg["store.queue_frames"],
                             min_free_mb=cfg["store.min_free_mb"])
        writer.start()  # the write lock, migrations, recovery of sessions a crash left open
        continues = None
        try:
            if self.request.resume:
                continues = writer.call(lambda conn: recovery.resume_target(
                    conn, time.time_ns(), cfg["store.resume_after_crash_s"]))
            row = writer.call(lambda conn: store_sessions.open_session(
                conn, box_id=cfg["box.id"], bed_label=cfg["box.bed_label"], source=self.source.name,
                model=self.pose.info.name, model_sha256=self.pose.info.sha256, decoder=self.pose.decoder,
                fps_nominal=self.source.fps_nominal, calibration=self.source.calibration,
                software_version=__version__, continues_session=continues.session_id if continues else None))
            self.machine.to(State.RECORDING)
            log.info("session %s started (db %s)%s", row.uid, db_path,
                     f", continuing {continues.uid} interrupted {continues.age_s:.0f} s ago" if continues else "")
            self.pipeline = Pipeline(self.source, self.pose, ValidityRules.from_config(cfg), writer, row.id,
                                     live=not self.request.as_fast_as_possible, queue_frames=cfg["pipeline.queue_frames"],
                                     max_frames=None if self.request.duration_s is not None else max_frames)
            if self._pending_stop:
                self.pipeline.request_stop(self._pending_stop)
            result = self.pipeline.run(on_progress)
            self.machine.to(State.STOPPING)
            writer.flush()  # commit everything queued so far
            if writer.disk_full:
                result.end_reason, result.error = "disk_full", writer.disk_detail
            elif writer.error is not None:
                result.end_reason, result.error = "error", result.error or f"store: {writer.error}"
            try:
                writer.call(lambda conn: store_sessions.close_session(
                    conn, row.id, result.end_reason, result.dropped, detail=result.error,
                    ended_at_ns=writer.last_stored_t_ns if result.end_reason == "error" else None))
            except Exception as exc:
                if not writer.disk_full:
                    raise
                # Not even the session row fits: it stays open, and the next recorder closes it as
                # interrupted at its last committed frame. Every committed frame is kept either way.
                log.error("session %s: cannot close the row on a full disk (%s); the next recorder closes it "
                          "as interrupted", row.uid, exc)
                result.error = f"{result.error}; the session row could not be closed ({exc})"
            summary_stats = writer.call(lambda conn: (
                conn.execute("SELECT frames, (SELECT COALESCE(SUM(valid_joints), 0) FROM frames WHERE session_id = ?) "
                             "FROM sessions WHERE id = ?", (row.id, row.id)).fetchone(),
                session_accuracy(conn, row.id)))
        finally:
            writer.stop()
            self.source.close()
        self.machine.to(State.ENDED)
        dump_path = self._write_pending_dump(db_path, row.uid, result.end_reason)
        (frames, valid_joints), accuracy = summary_stats
        return {
            "session_id": row.uid,
            "frames": frames,
            "fps": frames / result.elapsed_s if result.elapsed_s > 0 else float("nan"),
            "dropped_frames": result.dropped,
            "valid_joint_ratio": valid_joints / (NUM_JOINTS * frames) if frames else 0.0,
            "end_reason": result.end_reason,
            "error": result.error,
            "continues_session": continues.uid if continues else None,
            "db": os.fspath(db_path),
            "dump": os.fspath(dump_path) if dump_path else None,
            "elapsed_s": result.elapsed_s,
            "accuracy": accuracy,
        }
