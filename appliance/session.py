"""The session state machine and the recorder that runs one session from config to summary.

States: idle -> recording -> stopping -> ended. A session ends with one reason from
store.schema.END_REASONS: duration (the requested length was reached), stopped (a person asked,
Ctrl-C), shutdown (SIGTERM, the box going down), error, interrupted (found open after a crash),
disk_full.
"""
from __future__ import annotations

import enum
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .pipeline import Pipeline, Progress
from .stereo.report import session_accuracy
from .stereo.validity import ValidityRules
from .store import sessions as store_sessions
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

    def run(self, on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
        cfg = self.cfg
        db_path: Path = cfg.db_path
        writer = StoreWriter(db_path, cfg["store.commit_interval_s"], cfg["store.queue_frames"])
        writer.start()
        try:
            row = writer.call(lambda conn: store_sessions.open_session(
                conn, box_id=cfg["box.id"], bed_label=cfg["box.bed_label"], source=self.source.name,
                model=self.pose.info.name, model_sha256=self.pose.info.sha256, decoder=self.pose.decoder,
                fps_nominal=self.source.fps_nominal, calibration=self.source.calibration,
                software_version=__version__))
            self.machine.to(State.RECORDING)
            log.info("session %s started (db %s)", row.uid, db_path)
            self.pipeline = Pipeline(self.source, self.pose, ValidityRules.from_config(cfg), writer, row.id,
                                     live=not self.request.as_fast_as_possible, queue_frames=cfg["pipeline.queue_frames"])
            if self._pending_stop:
                self.pipeline.request_stop(self._pending_stop)
            result = self.pipeline.run(on_progress)
            self.machine.to(State.STOPPING)
            writer.call(lambda conn: None)  # commit everything queued so far
            if writer.error is not None:
                result.end_reason, result.error = "error", result.error or f"store: {writer.error}"
            writer.call(lambda conn: store_sessions.close_session(
                conn, row.id, result.end_reason, result.dropped, detail=result.error,
                ended_at_ns=writer.last_stored_t_ns if result.end_reason == "error" else None))
            summary_stats = writer.call(lambda conn: (
                conn.execute("SELECT frames, (SELECT COALESCE(SUM(valid_joints), 0) FROM frames WHERE session_id = ?) "
                             "FROM sessions WHERE id = ?", (row.id, row.id)).fetchone(),
                session_accuracy(conn, row.id)))
        finally:
            writer.stop()
            self.source.close()
        self.machine.to(State.ENDED)
        (frames, valid_joints), accuracy = summary_stats
        return {
            "session_id": row.uid,
            "frames": frames,
            "fps": frames / result.elapsed_s if result.elapsed_s > 0 else float("nan"),
            "dropped_frames": result.dropped,
            "valid_joint_ratio": valid_joints / (17 * frames) if frames else 0.0,
            "end_reason": result.end_reason,
            "error": result.error,
            "db": os.fspath(db_path),
            "elapsed_s": result.elapsed_s,
            "accuracy": accuracy,
        }
