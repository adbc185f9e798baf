"""`agma record` on the box's runtime: open, one session, close — the daemon's code path, once.

The runtime is opened as the daemon opens it (store, source, engine), the one session is started
as soon as the box is ready, it ends by its duration (or store.max_session_s), by Ctrl-C
(stopped), SIGTERM (shutdown), a full disk or an error, and the runtime closes. The summary is
read back from the committed rows.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from ..errors import AgmaError
from ..joints import NUM_JOINTS
from ..stereo.report import accuracy_block
from ..store import diskguard
from ..store.listing import open_readonly
from ..store.readback import load_session_arrays
from .box import Box, BoxOptions, session_frame_budget
from .factories import pose_builder, source_opener
from .health import Health

log = logging.getLogger(__name__)

#: How long `agma record` waits for the engine and the first frame before giving up, seconds.
READY_TIMEOUT_S = 300.0


class RecordError(AgmaError):
    """The session could not start (the box never became ready, or the start was refused)."""


def record_session(cfg, duration_s: float | None, as_fast_as_possible: bool, write_replay: str | None = None,
                   on_progress: Callable[[Health], None] | None = None,
                   on_box: Callable[[Box], None] | None = None, *,
                   open_source: Callable[[], Any] | None = None, build_pose: Callable[[Any], Any] | None = None,
                   resume: bool = False, sinks: Callable[[Box], list] | None = None) -> dict[str, Any]:
    """Run one session and return its summary (see docs/usage.md, `agma record --json`).

    on_box: called with the opened Box (the command installs its signal handlers there: they post
    Shutdown events). open_source / build_pose: the source and pose stage (default: from cfg, as
    the daemon builds them). resume: continue a recording interrupted less than
    store.resume_after_crash_s ago, as the daemon does at start (`agma record` never asks).
    sinks: the status sinks of the box (default none; `agma bench soak` adds MQTT when a broker runs).
    Raises the engine's own error when it cannot be built (a ConfigError keeps its exit code 78),
    a RecordError when the start is refused.
    """
    live = not as_fast_as_possible
    # refuse a session the disk cannot hold before anything is written (the runtime checks again at the start)
    max_frames, limit_from = session_frame_budget(cfg, duration_s, cfg["capture.fps"])
    diskguard.check_start(cfg.db_path, cfg["store.min_free_mb"], max_frames, limit_from=limit_from)
    box = Box(cfg, BoxOptions(live=live, duration_s=duration_s, exit_after_session=True, read_while_idle=False,
                              bounded_by_source=bool(write_replay) and duration_s is not None),
              open_source or source_opener(cfg, live, duration_s, write_replay, in_process=True), build_pose or pose_builder(cfg),
              sinks)
    box.open()
    stuck: list[str] = []
    try:
        if on_box is not None:
            on_box(box)
        refusal = box.wait_ready(READY_TIMEOUT_S)
        if refusal is not None:
            if box.inference.build_error is not None:
                raise box.inference.build_error
            if box.state.shutting_down:
                raise RecordError("interrupted before the session started")
            raise RecordError(f"cannot start the session: {refusal}")
        started = None
        if not (resume and box.resume_after_crash()):
            started = box.submit("start", "record", cfg["box.bed_label"] or None)
        box.on_progress = on_progress
        box.run()
        stats = _session_stats(box)
    finally:
        stuck = box.close()
    if started is not None and started.done() and not started.result().get("ok"):
        raise RecordError(started.result().get("error") or "the session was refused")
    if not box.outcomes:
        raise RecordError("the session did not start: " + (box.state.error or "refused"))
    outcome = box.outcomes[-1]
    dump = box.wait_for_dump(outcome.uid) if outcome.dump else None
    summary = _summary(cfg, outcome, dump, stats)
    summary["stuck_threads"] = stuck
    return summary


def _stats(conn, session_id: int) -> tuple:
    """((frames, valid joints), accuracy) of a session, from its committed rows."""
    counts = conn.execute("SELECT frames, (SELECT COALESCE(SUM(valid_joints), 0) FROM frames WHERE session_id = ?) "
                          "FROM sessions WHERE id = ?", (session_id, session_id)).fetchone()
    a = load_session_arrays(conn, session_id)
    return counts, accuracy_block(xyz_mm=a.xyz_mm, left_uv_px=a.left_uv_px, right_uv_px=a.right_uv_px, valid=a.valid,
                                  truth_xyz_mm=a.truth_xyz_mm, truth_left_uv_px=a.truth_left_uv_px,
                                  truth_right_uv_px=a.truth_right_uv_px)


def _session_stats(box: Box) -> tuple | None:
    """The last session's stats read through the writer while it runs (a reader's open would leave
    an empty -wal beside the file); None when there is no session or the writer has failed."""
    if not box.outcomes or box.writer is None or box.writer.error is not None:
        return None
    sid = box.outcomes[-1].db_id
    try:
        return box.writer.call(lambda conn: _stats(conn, sid))
    except Exception as exc:
        log.error("cannot read the session back through the writer (%s)", exc)
        return None


def _summary(cfg, outcome, dump, stats) -> dict[str, Any]:
    if stats is None:  # the writer failed: a reader's view, or what is known when the file cannot be read
        try:
            conn = open_readonly(cfg.db_path)
            try:
                stats = _stats(conn, outcome.db_id)
            finally:
                conn.close()
        except Exception as exc:
            log.error("cannot read the session back from %s (%s); the summary shows what the writer counted",
                      cfg.db_path, exc)
            stats = ((outcome.stored, 0), None)
    (frames, valid_joints), accuracy = stats
    elapsed = outcome.elapsed_s
    return {
        "session_id": outcome.uid,
        "frames": frames,
        "fps": frames / elapsed if elapsed > 0 else float("nan"),
        "dropped_frames": outcome.dropped,
        "valid_joint_ratio": valid_joints / (NUM_JOINTS * frames) if frames else 0.0,
        "end_reason": outcome.end_reason,
        "error": outcome.error,
        "continues_session": outcome.continues_uid,
        "db": os.fspath(cfg.db_path),
        "dump": os.fspath(dump) if dump else None,
        "elapsed_s": elapsed,
        "accuracy": accuracy,
    }
