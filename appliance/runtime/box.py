"""The box runtime: opened once, closed once; sessions are episodes inside it.

Who owns what (docs/architecture.md draws it):

- the **control loop** (the thread that calls ``run``, the main thread in `agma daemon` and
  `agma record`) owns the state machine (runtime/machine.py): it takes one event at a time from
  one queue, feeds it to ``transition`` and carries out the actions — open or close a session row
  through the writer, answer a request, write an event row. Every other thread only ``post``s
  events (the control socket, the button, signal handlers, the stage loops). Between events it
  supervises (``_supervise``): camera freshness, the writer's health, committed frames, stalls;
  and it rebuilds the frozen ``Health`` snapshot that status sinks read;
- the **capture** thread owns the frame source for the box's whole life (runtime/stages.py);
- the **inference** thread builds, warms and owns the pose stage (its CUDA context, later);
- the **store-writer** thread owns the SQLite connection (store/writer.py): the write lock,
  migrations and crash recovery happen once, at open;
- the **status sinks** — the control socket (status/control_socket.py), the button and LED
  (status/gpio.py) — each own their thread; later MQTT (#13) and systemd notify (#14) plug in at
  the same seam (``StatusSink``: start, stop, heartbeat; they read ``health()`` and ``post``);
- a **dumper** thread writes each finished session's pending dump, so the loop never waits on it;
- retention (store/retention.py: prune pulled sessions older than store.keep_days, VACUUM) runs
  as the writer's housekeeping (``StoreWriter.maintain``) in idle moments of the daemon: started
  by the loop, never waited for, interrupted by anything the store is needed for.

Seams for what comes next: ``open_source`` (a callable returning a FrameSource: the capture child
process of #11 plugs in here), ``build_pose`` (TensorRT, #12), the sinks list (MQTT, #13;
sd_notify, #14).

Every thread is named and non-daemon, and ``close`` joins them with a deadline; a thread still
stuck after it (a device call that never returns) is named in ``close``'s result, and the
command ends the process with ``os._exit`` and the exit code it would have had.
"""
from __future__ import annotations

import itertools
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout  # not the builtin one before Python 3.11
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..errors import AgmaError
from ..stereo.validity import ValidityRules
from ..store import diskguard, recovery
from ..store import sessions as store_sessions
from ..store.writer import StoreWriter, StoreWriterError
from . import machine as m
from .health import Health, RateMeter, judge_stalls
from .stages import CaptureLoop, InferenceLoop, SessionFeed, SourceInfo

log = logging.getLogger(__name__)

#: How often the control loop supervises when no event arrives, seconds.
TICK_S = 0.2
#: Backoff between attempts to reopen a store in error, seconds (the last one repeats).
STORE_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
#: The answer to a request that arrives while the runtime ends.
STOPPING_ANSWER = {"ok": False, "error": "the daemon is stopping"}
#: The longest a write through the writer may take before the store counts as failed, seconds.
WRITE_TIMEOUT_S = 30.0
#: Retention's housekeeping in idle moments: how often, and how soon again after an interrupted run, seconds.
HOUSEKEEPING_EVERY_S = 3600.0
HOUSEKEEPING_RETRY_S = 60.0
#: How often "days left at this rate" is recomputed (a short read-only query), seconds.
OUTLOOK_EVERY_S = 60.0


class StatusSink(Protocol):
    """A status sink or transport owned by the runtime: the control socket, the button, later MQTT."""

    name: str

    def start(self) -> None: ...

    def stop(self, timeout_s: float = 2.0) -> None: ...


@dataclass(frozen=True)
class _ButtonPress:
    """A recognised press (status/button.py Press), posted by the button's thread."""

    press: Any


@dataclass(frozen=True)
class BoxOptions:
    """How the runtime runs: the daemon's defaults, or `agma record`'s one session."""

    #: A paced source (a camera): drop frames when behind. False: offline, every stage waits.
    live: bool = True
    #: Each session's requested length in seconds; None: store.max_session_s.
    duration_s: float | None = None
    #: `agma record`: the runtime ends once its one session has closed.
    exit_after_session: bool = False
    #: The daemon: continue a recording interrupted less than store.resume_after_crash_s ago.
    resume: bool = False
    #: The source itself delivers exactly the session's frames and then ends (--write-replay: the
    #: replay folder is finished when its source ends): the runtime does not cut the session short.
    bounded_by_source: bool = False
    #: Read the source while idle (the daemon: camera health). False (`agma record`): read only for
    #: the session, which then starts with the source's first frame.
    read_while_idle: bool = True
    #: The daemon: a camera absent at start is waited for (camera: absent, retried with backoff)
    #: instead of failing the start; False (`agma record`): its one session needs the camera now.
    wait_for_camera: bool = False


@dataclass
class _Session:
    """The open session, as the control loop tracks it."""

    db_id: int
    uid: str
    bed_label: str | None
    feed: SessionFeed
    t0_mono: float
    stored_at_open: int
    dropped_writer_at_open: int
    continues_uid: str | None = None
    started_at_ns: int | None = None


@dataclass(frozen=True)
class SessionOutcome:
    """How a session ended, for `agma record`'s summary."""

    db_id: int
    uid: str
    end_reason: str
    error: str | None
    dropped: int
    elapsed_s: float
    continues_uid: str | None
    dump: Path | None
    stored: int = 0  # committed frames, as the writer counted them


def session_frame_budget(cfg, duration_s: float | None, fps: float) -> tuple[int, str]:
    """The most frames one session may store, and what sets it (--duration or store.max_session_s)."""
    if duration_s is not None:
        return int(round(fps * duration_s)), "--duration"
    return int(round(fps * cfg["store.max_session_s"])), "store.max_session_s"


class Box:
    """The box's runtime (see the module's doc). Use: ``open()``, ``run()``, ``close()``."""

    def __init__(self, cfg, options: BoxOptions, open_source: Callable[[], Any], build_pose: Callable[[SourceInfo], Any],
                 sinks: Callable[["Box"], list[StatusSink]] | None = None) -> None:
        self.cfg, self.options = cfg, options
        self.db_path: Path = cfg.db_path
        self._events: queue.Queue = queue.Queue()
        self.state = m.BoxState()
        self._replies: dict[int, Future] = {}
        self._tokens = itertools.count(1)
        self.capture = CaptureLoop(open_source, self.post, live=options.live, queue_frames=cfg["pipeline.queue_frames"],
                                   lost_after_s=cfg["camera.lost_after_s"], read_while_idle=options.read_while_idle,
                                   restart_window_s=cfg["camera.restart_window_s"])
        self.inference = InferenceLoop(build_pose, self.capture.source_ready, lambda: self.capture.source_info,
                                       self.capture.frames, ValidityRules.from_config(cfg), lambda: self.writer, self.post,
                                       live=options.live)
        self.writer: StoreWriter | None = None
        self._make_sinks = sinks
        self.sinks: list[StatusSink] = []
        self.session: _Session | None = None
        self.outcomes: list[SessionOutcome] = []
        self._rate = RateMeter()
        self._health: Health | None = None
        self._disk_free_mb = float("nan")
        self._disk_checked = 0.0
        self._disk_low = False  # a disk_low event was raised and free space has not recovered since
        self._store_retry_at: float | None = None
        self._store_attempt = 0
        self._exit = False
        self._dumps: queue.Queue = queue.Queue()
        self._dumper = threading.Thread(target=self._dump_loop, name="dumper")
        self._dump_futures: dict[str, Future] = {}
        self._continue_target: recovery.ResumeDecision | None = None
        self._refused_at: float | None = None
        self._acked_at: float | None = None
        self.on_progress: Callable[[Health], None] | None = None
        self._housekeeping: Future | None = None  # retention's run in the writer thread, while it runs
        self._housekeeping_due = 0.0  # monotonic: the first idle moment after open
        self._outlook_at = -math.inf
        self._days_left = float("nan")

    # -- open and close, once each -------------------------------------------------------------------------
    def open(self) -> None:
        """Open the store (lock, migrations, recovery), the source (once, here: a wrong config fails
        now), then start the stage threads and the status sinks. Raises with nothing left running."""
        self.writer = self._new_writer()
        try:
            self.writer.start()
            try:
                self.capture.open_first(wait_absent=self.options.wait_for_camera)
            except Exception as exc:  # no camera at start: a USB reset tried meanwhile is still an event
                if getattr(exc, "usb_reset", None):
                    self._record_event("camera_usb_reset", exc.usb_reset)
                raise
        except BaseException:
            self._stop_writer(WRITE_TIMEOUT_S)
            raise
        self.capture.start()
        self.inference.start()
        self._dumper.start()
        self._refresh_health()  # sinks read it from their first turn
        self.sinks = self._make_sinks(self) if self._make_sinks else []
        started = []
        try:
            for sink in self.sinks:
                sink.start()
                started.append(sink)
        except BaseException:
            for sink in started:
                sink.stop()
            self.close()
            raise
        self._refresh_health()

    def _new_writer(self) -> StoreWriter:
        cfg = self.cfg
        return StoreWriter(self.db_path, cfg["store.commit_interval_s"], cfg["store.queue_frames"],
                           min_free_mb=cfg["store.min_free_mb"], queue_events=cfg["mqtt.enabled"])

    def close(self, deadline_s: float | None = None) -> list[str]:
        """Stop every thread and join them within the deadline (supervisor.join_timeout_s);
        -> the names of threads still stuck after it (the caller then ends the process)."""
        deadline_s = self.cfg["supervisor.join_timeout_s"] if deadline_s is None else deadline_s
        end = time.monotonic() + deadline_s
        for sink in self.sinks:
            try:
                sink.stop(max(0.1, end - time.monotonic()))
            except Exception as exc:
                log.error("%s: stopping failed: %s", getattr(sink, "name", sink), exc)
        self.capture.stop()
        self.inference.stop()
        self._dumps.put(None)
        threads = self.capture.threads() + self.inference.threads()
        threads += [self._dumper] if self._dumper.ident is not None else []
        for t in threads:
            t.join(max(0.0, end - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        if self.writer is not None:
            self._stop_writer(max(0.1, end - time.monotonic()))
        for sink in self.sinks:
            threads = getattr(sink, "threads", ())
            stuck += [t.name for t in (threads() if callable(threads) else threads) if t.is_alive()]
        if stuck:
            log.error("threads still running after the %.1f s join deadline: %s", deadline_s, ", ".join(stuck))
        return stuck

    def _stop_writer(self, timeout_s: float) -> None:
        w, self.writer = self.writer, None
        w.stop(timeout_s)  # logs when its thread is stuck (the lock then stays held until exit)

    # -- the other threads' side -------------------------------------------------------------------------------
    def post(self, event: m.Event) -> None:
        """Enqueue an event for the control loop: the only thing other threads and signal handlers do."""
        self._events.put(event)

    def submit(self, action: str, origin: str, bed_label: str | None = None) -> Future:
        """Post a start or stop for the control loop; -> the Future of its answer
        ({"ok": bool, "session_id"?, "error"?})."""
        fut: Future = Future()
        if self._exit:
            fut.set_result(dict(STOPPING_ANSWER))
            return fut
        token = next(self._tokens)
        self._replies[token] = fut
        fut.add_done_callback(lambda _f, t=token: self._replies.pop(t, None))
        if action == "start":
            self.post(m.Start(origin, bed_label, token))
        elif action == "stop":
            self.post(m.Stop(origin, token))
        else:
            raise ValueError(f"not a request: {action}")
        return fut

    def request(self, action: str, origin: str, bed_label: str | None = None, timeout_s: float = 10.0) -> dict:
        """``submit`` and wait for the answer (a transport's thread calls this); raises
        concurrent.futures.TimeoutError when none came in time."""
        fut = self.submit(action, origin, bed_label)
        try:
            return fut.result(timeout_s)
        finally:
            fut.cancel()

    def answer(self, cmd) -> dict:
        """A transport's parsed command (status/commands.py Command) -> its answer; the seam the
        control socket and MQTT share. status is answered from the snapshot, start/stop by the loop."""
        rid = {"request_id": cmd.request_id} if getattr(cmd, "request_id", None) else {}
        if cmd.action == "status":
            from .health import status_document

            return {"ok": True, **rid, **status_document(self.health())}
        if cmd.action == "ack":  # the control socket only (status/commands.py): `agma dump --ack UID`
            return {**self._acknowledge(cmd.session_id), **rid}
        try:
            answer = self.request(cmd.action, cmd.origin, cmd.bed_label)
        except (TimeoutError, FutureTimeout):
            answer = {"ok": False, "error": "the daemon did not answer in time"}
        return {**answer, **rid}

    def _acknowledge(self, uid: str) -> dict:
        """A session's dump was pulled (store/retention.py acknowledge), written through the writer
        from the transport's thread (no state of the loop is involved); -> the answer."""
        from ..store import retention

        w = self.writer
        if w is None or w.error is not None:
            return {"ok": False, "error": "store error: the database is not open"}
        try:
            ack = w.call(lambda conn: retention.acknowledge(conn, uid, self.db_path), timeout_s=WRITE_TIMEOUT_S)
        except AgmaError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:
            return {"ok": False, "error": f"store: {exc}"}
        log.info("session %s: dump %s pulled (%s)", uid, "already counted as" if ack.already else "acknowledged as",
                 ack.pulled_by)
        return {"ok": True, "session_id": uid, "already": ack.already, "pulled_by": ack.pulled_by,
                "pulled_at_ns": ack.pulled_at_ns, "ended_at_ns": ack.ended_at_ns,
                "keep_days": self.cfg["store.keep_days"]}

    def health(self) -> Health:
        """The latest frozen snapshot (never None after open)."""
        return self._health

    # -- the control loop --------------------------------------------------------------------------------------
    def run(self) -> None:
        """Process events until the state machine says Exit (a shutdown with no session open, or
        `agma record`'s session closed)."""
        if self.options.resume:
            self.resume_after_crash()
        last_progress = 0.0
        while not self._exit:
            try:
                event = self._events.get(timeout=TICK_S)
            except queue.Empty:
                event = None
            if event is not None:
                self._dispatch(event)
            self._supervise()
            now = time.monotonic()
            if self.on_progress is not None and now - last_progress >= 1.0:
                last_progress = now
                self.on_progress(self._health)
        for token in list(self._replies):  # nobody will answer these any more
            self._reply(token, dict(STOPPING_ANSWER))

    def press(self, press) -> None:
        """The button's callback (its own thread): only enqueue."""
        self.post(_ButtonPress(press))

    def led_view(self):
        """What the LED shows, from the latest snapshot and the last press's feedback (status/led.py)."""
        from ..status.led import LedView

        h = self._health
        return LedView(ready=h.ready, state=h.state, health=h.health, ended_by_itself=h.ended_by_itself,
                       refused_at_s=self._refused_at, acked_at_s=self._acked_at)

    def _press_event(self, e: "_ButtonPress") -> m.Event | None:
        """A press -> what it asks of the box (status/button.py press_intent), decided on the loop's state."""
        from ..status.button import press_intent

        st = self.state
        intent = press_intent(e.press, st.state, st.ready, st.ended_by_itself)
        log.info("button: %s press -> %s", e.press.kind, intent)
        if intent == "start":
            return m.Start("button", None, None)
        if intent == "stop":
            return m.Stop("button", None)
        if intent == "clear":
            return m.ClearEnded()
        if intent == "refuse":
            self._refused_at = time.monotonic()
        else:
            self._acked_at = time.monotonic()
        return None

    def _dispatch(self, event) -> None:
        if isinstance(event, m.EngineFailed) and not self.options.exit_after_session:
            log.error("engine: %s", event.detail)  # `agma record` raises the build error itself: one line
        if isinstance(event, _ButtonPress):
            event = self._press_event(event)
            if event is None:
                self._refresh_health()
                return
            if isinstance(event, m.Start) and m.start_refusal(self.state) is not None:
                self._refused_at = time.monotonic()
        pending = [event]
        while pending:
            e = pending.pop(0)
            self.state, actions = m.transition(self.state, e)
            for action in actions:
                follow = self._execute(action)
                if follow is not None:
                    pending.append(follow)
            self._refresh_health()

    def _execute(self, a: m.Action) -> m.Event | None:
        if isinstance(a, m.Reply):
            self._reply(a.token, {"ok": a.ok, **({"session_id": a.session_id} if a.session_id else {}),
                                  **({"error": a.error} if a.error else {})})
            return None
        if isinstance(a, m.OpenSession):
            follow = self._open_session(a)
            if isinstance(follow, m.SessionOpenFailed) and self.options.exit_after_session:
                self.post(m.Shutdown("record", "shutdown"))  # `agma record`: nothing else to do
            return follow
        if isinstance(a, m.CloseSession):
            return self._close_session(a)
        if isinstance(a, m.RecordEvent):
            self._record_event(a.kind, a.detail)
            return None
        if isinstance(a, m.Exit):
            self._exit = True
            return None
        raise TypeError(f"not an action: {a!r}")

    def _reply(self, token: int | None, answer: dict) -> None:
        fut = self._replies.get(token) if token is not None else None
        if fut is not None and not fut.done():
            fut.set_result(answer)

    # -- sessions ----------------------------------------------------------------------------------------------
    def _max_frames(self, fps: float) -> tuple[int, str]:
        return session_frame_budget(self.cfg, self.options.duration_s, fps)

    def _open_session(self, a: m.OpenSession) -> m.Event:
        cfg, src = self.cfg, self.capture.source
        info = self.capture.source_info
        continues, self._continue_target = self._continue_target, None
        if src is None or info is None or self.inference.pose is None:
            return m.SessionOpenFailed("camera absent" if src is None else "engine warming up", a.token)
        writer = self.writer
        if writer is None:
            return m.SessionOpenFailed("store error: the database is not open", a.token)
        max_frames, limit_from = self._max_frames(info.fps_nominal)
        try:
            diskguard.check_start(self.db_path, cfg["store.min_free_mb"], max_frames, limit_from=limit_from)
            pose = self.inference.pose
            bed = a.bed_label if a.bed_label is not None else cfg["box.bed_label"]
            prov = pose.info.provenance  # a TensorRT engine's sidecar facts; None for any other model
            row = writer.call(lambda conn: store_sessions.open_session(
                conn, box_id=cfg["box.id"], bed_label=bed, source=info.name, model=pose.info.name,
                model_sha256=pose.info.sha256, decoder=pose.decoder, fps_nominal=info.fps_nominal,
                calibration=src.calibration, software_version=__version__,
                continues_session=continues.session_id if continues else None,
                engine_onnx_sha256=prov.onnx_sha256 if prov else None,
                engine_tensorrt_version=prov.tensorrt_version if prov else None,
                engine_precision=prov.precision if prov else None,
                engine_gpu=prov.gpu if prov else None), timeout_s=WRITE_TIMEOUT_S)
        except AgmaError as exc:
            return m.SessionOpenFailed(str(exc), a.token)
        except Exception as exc:
            return m.SessionOpenFailed(f"store: {exc}", a.token)
        feed = SessionFeed(row.id, info.fps_nominal, None if self.options.bounded_by_source else max_frames)
        self.inference.reset_tracking()
        self.session = _Session(db_id=row.id, uid=row.uid, bed_label=bed, feed=feed, t0_mono=time.monotonic(),
                                stored_at_open=writer.stored_frames, dropped_writer_at_open=writer.dropped_frames,
                                continues_uid=continues.uid if continues else None, started_at_ns=row.started_at_ns)
        self._rate.reset()
        self.capture.begin_session(feed)
        log.info("session %s started (origin %s, db %s)%s", row.uid, a.origin, self.db_path,
                 f", continuing {continues.uid} interrupted {continues.age_s:.0f} s ago" if continues else "")
        self._reply(a.token, {"ok": True, "session_id": row.uid})
        return m.SessionOpened(row.uid, bed)

    def _close_session(self, a: m.CloseSession) -> m.Event:
        s = self.session
        marker = self.capture.end_session(room_timeout_s=self.cfg["supervisor.stall_after_s"])
        if not marker.done.wait(self.cfg["supervisor.stall_after_s"] + 5.0):
            log.error("session %s: inference did not finish its frames in time; closing with what is committed", s.uid)
        reason, detail = a.reason, a.detail
        writer = self.writer
        try:
            writer.flush(timeout_s=WRITE_TIMEOUT_S)
        except Exception as exc:
            log.error("store: the final commit of session %s failed: %s", s.uid, exc)
        if writer.disk_full and reason != "error":
            reason, detail = "disk_full", writer.disk_detail
        elif writer.error is not None and reason != "error":
            reason, detail = "error", f"store: {writer.error}"
        # every frame handed to the session and not committed: dropped behind inference or the
        # writer, or lost with a failed store
        dropped = max(0, s.feed.accepted - (writer.stored_frames - s.stored_at_open))
        reason, detail = self._close_row(s, reason, dropped, detail)
        elapsed = time.monotonic() - s.t0_mono
        log.info("session %s ended: %s%s (%d frames stored, %d dropped)", s.uid, reason, f" ({detail})" if detail else "",
                 writer.stored_frames - s.stored_at_open, dropped)
        dump = self._schedule_dump(s.uid, reason)
        self._outlook_at = -math.inf  # the recording rate moved: "days left" anew at the next refresh
        self.outcomes.append(SessionOutcome(s.db_id, s.uid, reason, detail, dropped, elapsed, s.continues_uid, dump,
                                            stored=writer.stored_frames - s.stored_at_open))
        self.session = None
        self._reply(a.token, {"ok": True, "session_id": s.uid})
        if self.options.exit_after_session:
            self.post(m.Shutdown("record", reason))
        return m.SessionClosed(s.uid, reason)

    def _close_row(self, s: _Session, reason: str, dropped: int, detail: str | None) -> tuple[str, str | None]:
        """Close the session row: through the writer, or, once it has failed, on a fresh connection
        (StoreWriter.close_session_after_failure) at the last committed frame. When even that fails
        (a full disk, a dead file) the row stays open and the next open closes it as interrupted;
        the committed frames are kept either way. -> the (end reason, detail) to report."""
        writer = self.writer

        def close(conn):
            if reason == "error":  # ended at its last committed frame, as the file holds it
                recovery.close_at_last_frame(conn, s.db_id, reason, dropped, detail)
            else:
                store_sessions.close_session(conn, s.db_id, reason, dropped, detail=detail)

        if writer.error is None:
            try:
                writer.call(close, timeout_s=WRITE_TIMEOUT_S)
                return reason, detail
            except StoreWriterError:  # the writer failed just now: the session ends as error
                reason, detail = "error", f"store: {writer.error}"
            except Exception as exc:
                return reason, self._unclosed(s, detail, exc)
        try:
            writer.close_session_after_failure(s.db_id, reason, dropped, detail)
        except Exception as exc:
            return reason, self._unclosed(s, detail, exc)
        return reason, detail

    @staticmethod
    def _unclosed(s: _Session, detail: str | None, exc: BaseException) -> str:
        log.error("session %s: cannot close the row (%s); the next start closes it as interrupted", s.uid, exc)
        return "; ".join(filter(None, [detail, f"the session row could not be closed ({exc})"]))

    def resume_after_crash(self) -> bool:
        """The daemon at start: a recording interrupted less than store.resume_after_crash_s ago goes
        on as a new session pointing to it. -> whether a session was continued."""
        try:
            target = self.writer.call(lambda conn: recovery.resume_target(
                conn, time.time_ns(), self.cfg["store.resume_after_crash_s"]), timeout_s=WRITE_TIMEOUT_S)
        except Exception as exc:
            log.error("store: cannot decide whether to resume (%s)", exc)
            return False
        if target is None:
            return False
        refusal = self.wait_ready(self.cfg["supervisor.stall_after_s"] + 60.0)  # as a nurse's start would
        if refusal is not None:
            log.error("cannot continue the interrupted session %s: %s", target.uid, refusal)
            return False
        self._continue_target = target
        self._dispatch(m.Start("daemon", target.bed_label or None))
        return self.session is not None

    def wait_ready(self, timeout_s: float) -> str | None:
        """Run the control loop until a start would be accepted (engine ready, camera delivering) or
        the timeout; -> None when ready, else the reason a start would be refused now."""
        deadline = time.monotonic() + timeout_s
        while not self._exit:
            if self.state.ready:
                return None
            if self.state.engine == "error" or time.monotonic() >= deadline:
                break
            try:
                self._dispatch(self._events.get(timeout=TICK_S))
            except queue.Empty:
                pass
            self._supervise()
        return m.start_refusal(self.state) or "the box is shutting down"

    def _record_event(self, kind: str, detail: str | None) -> None:
        if self.writer is None or self.writer.error is not None:
            log.warning("event %s (%s) not stored: the store is in error", kind, detail)
            return
        sid = self.session.db_id if self.session else None
        try:
            self.writer.call(lambda conn: store_sessions.add_event(conn, sid, kind, detail), timeout_s=WRITE_TIMEOUT_S)
        except Exception as exc:
            log.error("event %s not stored: %s", kind, exc)

    # -- dumps -------------------------------------------------------------------------------------------------
    def _schedule_dump(self, uid: str, reason: str) -> Path | None:
        from ..store.dump import pending_dump_dir

        folder = pending_dump_dir(self.cfg)
        if folder is None or reason == "disk_full":
            return None
        path = folder / f"{uid}.sqlite"
        done: Future = Future()
        self._dumps.put((uid, folder, done))
        self._dump_futures[uid] = done
        return path

    def wait_for_dump(self, uid: str, timeout_s: float = 600.0) -> Path | None:
        """`agma record`: wait for the session's pending dump; None when off or it failed."""
        fut = self._dump_futures.get(uid)
        if fut is None:
            return None
        try:
            return fut.result(timeout_s)
        except Exception:
            return None

    def _dump_loop(self) -> None:
        from ..store.dump import write_pending_dump

        while True:
            item = self._dumps.get()
            if item is None:
                return
            uid, folder, done = item
            try:
                path = write_pending_dump(self.db_path, uid, folder)
            except Exception as exc:  # the session is safe in the database; `agma dump --new` catches up
                log.error("dump of session %s to %s failed: %s (agma dump --new catches up)", uid, folder, exc)
                done.set_result(None)
                continue
            self._record_dump(uid, path)
            done.set_result(path)

    def _record_dump(self, uid: str, path: Path) -> None:
        """The dumper: the pending dump is written (session_dumps), so its removal by the puller
        will count as pulled (store/retention.py). Without the record, retention finds the file at
        its next run instead."""
        from ..store import retention
        from ..store.dump import read_sha256_sidecar

        w = self.writer
        try:
            if w is None:
                raise StoreWriterError("the store is not open")
            w.call(lambda conn: retention.record_dump_written(conn, uid, path, read_sha256_sidecar(path) or ""),
                   timeout_s=WRITE_TIMEOUT_S)
        except Exception as exc:
            log.warning("dump of session %s written but not recorded (%s); retention finds it later", uid, exc)

    # -- supervision -------------------------------------------------------------------------------------------
    def _supervise(self) -> None:
        now = time.monotonic()
        st = self.state
        cap = self.capture
        # the camera, from frame arrival (an offline source is not read while idle: it counts as there)
        if cap.source is not None and not cap.ended:
            fresh = cap.camera_fresh(now) if self.options.live else True  # offline: no camera to lose
            if fresh and st.camera != "ok":
                self._dispatch(m.CameraRestored())
            elif not fresh and st.camera == "ok" and cap.last_frame_mono is not None:
                self._dispatch(m.CameraLost(f"no frame for {now - cap.last_frame_mono:.1f} s"))
        # the store
        w = self.writer
        if w is not None:
            if w.error is not None and self.state.store != "error":
                self._dispatch(m.StoreError(str(w.error)))
            elif w.disk_full and self.state.store == "ok":
                self._dispatch(m.DiskFull(w.disk_detail or "disk full"))
            if self.session is not None:
                self._rate.add(now, w.stored_frames - self.session.stored_at_open)
                self._dispatch(m.Committed(w.stored_frames - self.session.stored_at_open))
        if self.state.store == "error" and self.session is None:
            self._retry_store(now)
        if self.session is None and not self.options.exit_after_session:
            self._housekeep(now)
        self._refresh_health(now)

    def _housekeep(self, now: float) -> None:
        """In an idle moment of the daemon, start retention's run (store/retention.py maintain) in the
        writer's thread and go on; its outcome is read at a later tick. Opening a session (or any
        other write) interrupts it, rolled back; it is tried again HOUSEKEEPING_RETRY_S later."""
        fut = self._housekeeping
        if fut is not None:
            if not fut.done():
                return
            self._housekeeping = None
            exc = fut.exception()
            if exc is not None:
                log.error("retention: failed: %s", exc)
            elif fut.result().interrupted:
                self._housekeeping_due = min(self._housekeeping_due, now + HOUSEKEEPING_RETRY_S)
        w, st = self.writer, self.state
        if now < self._housekeeping_due or w is None or w.error is not None or st.state != "idle" or st.store != "ok":
            return
        self._housekeeping_due = now + HOUSEKEEPING_EVERY_S
        keep_days = self.cfg["store.keep_days"]
        if keep_days <= 0:
            return
        from ..store import retention
        from ..store.dump import pending_dump_dir

        dump_dir, reserve = pending_dump_dir(self.cfg), int(self.cfg["store.min_free_mb"] * diskguard.MB)
        try:
            self._housekeeping = w.maintain(lambda conn: retention.maintain(
                conn, self.db_path, time.time_ns(), keep_days, dump_dir, reserve))
        except StoreWriterError:
            pass

    def _judge_disk_low(self) -> None:
        """A disk_low event when free space falls below store.warn_free_mb; once, until it recovers
        (by 10 %, so a level hovering at the threshold does not raise one per check)."""
        warn = self.cfg["store.warn_free_mb"]
        free = self._disk_free_mb
        if not math.isfinite(free) or warn <= 0:
            return
        if not self._disk_low and free < warn:
            self._disk_low = True
            self._record_event("disk_low", f"{free:.0f} MB free beside {self.db_path} (warning below {warn:.0f} MB)")
        elif self._disk_low and free > warn * 1.1:
            self._disk_low = False

    def _retry_store(self, now: float) -> None:
        """The daemon reopens a failed store with backoff and accepts starts once it opens."""
        if self._store_retry_at is None:
            self._store_retry_at = now + STORE_BACKOFF_S[0]
            return
        if now < self._store_retry_at:
            return
        old = self.writer
        if old is not None:
            self._stop_writer(5.0)
        w = self._new_writer()
        try:
            w.start()
        except Exception as exc:
            self._store_attempt += 1
            delay = STORE_BACKOFF_S[min(self._store_attempt, len(STORE_BACKOFF_S) - 1)]
            self._store_retry_at = now + delay
            log.warning("store: reopening %s failed (%s); next try in %.0f s", self.db_path, exc, delay)
            self.writer = None
            return
        self.writer = w
        self._store_retry_at, self._store_attempt = None, 0
        log.info("store: %s reopened", self.db_path)
        self._dispatch(m.StoreRestored())

    def _refresh_health(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now - self._disk_checked > 5.0:
            self._disk_checked = now
            try:
                self._disk_free_mb = diskguard.free_bytes(self.db_path) / diskguard.MB
            except OSError:
                self._disk_free_mb = float("nan")
            self._judge_disk_low()
        if now - self._outlook_at > OUTLOOK_EVERY_S:
            self._outlook_at = now
            self._days_left = self._days_left_now()
        ages = {}
        if self.state.engine == "ready":
            ages["inference"] = self.inference.heartbeat.age_s(now)
        if self.writer is not None and self.writer.error is None:
            ages["store-writer"] = max(0.0, now - self.writer.heartbeat)
        mqtt, mqtt_detail = "off", None
        for sink in self.sinks:
            hb = getattr(sink, "heartbeat", None)
            if isinstance(hb, float):
                ages[sink.name] = max(0.0, now - hb)
            link = getattr(sink, "link", None)  # a broker link's condition (status/mqtt.py): never a stall
            if link is not None:
                mqtt, mqtt_detail = link
        stalled = judge_stalls(ages, self.cfg["supervisor.stall_after_s"])
        st, s = self.state, self.session
        health, error = st.health, st.error
        if stalled:
            health = "error"
            error = "; ".join(filter(None, [f"stalled: {', '.join(stalled)}", error]))
        w = self.writer
        dropped = 0
        if s is not None and w is not None:
            dropped = s.feed.dropped_capture + (w.dropped_frames - s.dropped_writer_at_open)
        inf = self.inference
        reader = getattr(self.capture.source, "reader", None)  # the capture process's ring, when there is one
        self._health = Health(
            state=st.state, health=health, error=error, session_id=st.session_uid, bed_label=st.bed_label,
            frames=st.frames, fps=self._rate.rate() if s is not None else 0.0, dropped_frames=dropped,
            elapsed_s=(now - s.t0_mono) if s is not None else 0.0, camera=st.camera, engine=st.engine, store=st.store,
            disk_free_mb=self._disk_free_mb, source_opens=self.capture.source_opens,
            engine_loads=self.inference.engine_loads, ready=st.ready, last_end_reason=st.last_end_reason,
            ended_by_itself=st.ended_by_itself, stalled=stalled, heartbeat_age_s=ages,
            queue_depths={"frames": self.capture.frames.qsize()},
            session_started_ns=s.started_at_ns if s is not None else None,
            valid_joint_ratio=(inf.session_valid_joints / inf.session_joints
                               if s is not None and inf.session_joints else float("nan")),
            latency_ms={name: w.percentiles() for name, w in inf.latency.items()},
            ring_overruns=getattr(reader, "overruns", 0), ring_dropped=getattr(reader, "dropped", 0),
            mqtt=mqtt, mqtt_detail=mqtt_detail, days_left=self._days_left)

    def _days_left_now(self) -> float:
        """Days until store.min_free_mb at the last 7 days' recording rate (store/retention.py); NaN unknown."""
        from ..store import retention
        from ..store.dump import pending_dump_dir

        try:
            d = retention.disk_outlook(self.db_path, time.time_ns(), self.cfg["store.min_free_mb"],
                                       pending_dump_dir(self.cfg)).days_left
        except Exception as exc:  # no database yet, a damaged one: the figure is unknown, nothing else
            log.debug("days left: %s", exc)
            return float("nan")
        return float("nan") if d is None else d
