"""The box's session state machine: pure, event-driven, ``transition(state, event) -> (state, actions)``.

Nothing here does I/O, reads a clock or raises on a user's mistake. The runtime (runtime/box.py)
owns one queue of events; the control socket, the button, signal handlers and the supervisor
only put events on it, and the runtime's control loop feeds them here one at a time and carries
out the actions that come back (open or close a session row, answer a request, write an event
row, exit). That split is what the Hypothesis stateful test drives (tests/runtime/).

States of the session: ``idle`` -> ``starting`` -> ``recording`` -> ``stopping`` -> ``idle``.
``starting`` and ``stopping`` last while the runtime opens or closes the session row; the
runtime answers with SessionOpened / SessionOpenFailed / SessionClosed.

Conditions of the box, beside the session: camera (ok, lost, absent, error), store (ok,
disk_full, error), engine (warming, ready, error). They make the reported health ``degraded`` or
``error`` (``BoxState.health``) and decide which starts are refused. Camera loss while recording
keeps the session open (the gap is a hole in frame_index and camera_lost / camera_restored
events); a full disk or a store error ends it. A refusal is an answer, never an exception, and
changes nothing else.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..store.schema import END_REASONS

SESSION_STATES = ("idle", "starting", "recording", "stopping")
CAMERA_STATES = ("ok", "lost", "absent", "error")
STORE_STATES = ("ok", "disk_full", "error")
ENGINE_STATES = ("warming", "ready", "error")
HEALTH_STATES = ("ok", "degraded", "error")
#: Who asked for a start or a stop: the transports that enqueue events.
ORIGINS = ("socket", "mqtt", "button", "signal", "record", "daemon")
#: End reasons after which a session "ended by itself" (the LED shows it until the next press).
SELF_ENDED_REASONS = ("duration", "disk_full", "error")


@dataclass(frozen=True)
class BoxState:
    """Everything the control loop knows: the session and the box's conditions.

    session_uid/bed_label: the open session (starting, recording, stopping), else None.
    ending_reason: the end reason of the session being closed (stopping).
    last_end_reason: how the previous session ended; ended_by_itself until the next start or press.
    camera_detail/store_detail/engine_detail: the text of a condition that is not ok.
    frames: committed frames of the open session (never decreases while it is open).
    shutting_down: a shutdown was asked; the runtime exits once no session is open.
    camera_seen: a frame has arrived since the box opened (a camera absent at boot that then
    appears is not a "restored" camera).
    """

    state: str = "idle"
    camera: str = "absent"
    store: str = "ok"
    engine: str = "warming"
    session_uid: str | None = None
    bed_label: str | None = None
    ending_reason: str | None = None
    last_end_reason: str | None = None
    ended_by_itself: bool = False
    camera_detail: str | None = None
    store_detail: str | None = None
    engine_detail: str | None = None
    frames: int = 0
    shutting_down: bool = False
    camera_seen: bool = False

    @property
    def health(self) -> str:
        """error: the box cannot record (store or engine in error, camera in error); degraded: it
        records or could, with a condition to look at (camera lost or absent, disk full); else ok."""
        if self.store == "error" or self.engine == "error" or self.camera == "error":
            return "error"
        if self.camera in ("lost", "absent") or self.store == "disk_full":
            return "degraded"
        return "ok"

    @property
    def error(self) -> str | None:
        """One line naming every condition that is not ok, worst first; None when healthy."""
        parts = []
        if self.store != "ok":
            parts.append(f"store {self.store}" + (f": {self.store_detail}" if self.store_detail else ""))
        if self.engine == "error":
            parts.append("engine error" + (f": {self.engine_detail}" if self.engine_detail else ""))
        if self.camera != "ok":
            parts.append(f"camera {self.camera}" + (f": {self.camera_detail}" if self.camera_detail else ""))
        return "; ".join(parts) or None

    @property
    def ready(self) -> bool:
        """Whether a start would be accepted now (nothing open, every condition allowing it)."""
        return self.state == "idle" and start_refusal(self) is None


# -- events: what happened (enqueued by transports, the supervisor and the runtime itself) -------------
@dataclass(frozen=True)
class Start:
    origin: str
    bed_label: str | None = None
    token: int | None = None  # the runtime's handle of the request waiting for an answer


@dataclass(frozen=True)
class Stop:
    origin: str
    token: int | None = None


@dataclass(frozen=True)
class Shutdown:
    """End the runtime; an open session ends with ``reason`` (shutdown: SIGTERM, the box going down;
    stopped: Ctrl-C of a person at the terminal)."""

    origin: str = "signal"
    reason: str = "shutdown"


@dataclass(frozen=True)
class DurationReached:
    """The open session reached its requested duration or store.max_session_s (or its source ended)."""


@dataclass(frozen=True)
class CameraLost:
    detail: str = ""


@dataclass(frozen=True)
class CameraAbsent:
    """No camera at open (or the source ended). usb_reset: what the zed source's USB reset did at
    that open (capture/usb_reset.py), recorded as ``camera_usb_reset`` even while already absent."""

    detail: str = ""
    usb_reset: str | None = None


@dataclass(frozen=True)
class CameraRestored:
    detail: str = ""


@dataclass(frozen=True)
class CameraRestarted:
    """The capture process was replaced (detail: hung, or its exit status)."""

    detail: str = ""


@dataclass(frozen=True)
class CameraFailed:
    detail: str = ""


@dataclass(frozen=True)
class DiskFull:
    detail: str = ""


@dataclass(frozen=True)
class StoreError:
    detail: str = ""


@dataclass(frozen=True)
class StoreRestored:
    """The store is writable again (reopened after an error, or room after a full disk)."""


@dataclass(frozen=True)
class EngineReady:
    pass


@dataclass(frozen=True)
class EngineFailed:
    detail: str = ""


@dataclass(frozen=True)
class SessionOpened:
    uid: str
    bed_label: str | None = None


@dataclass(frozen=True)
class SessionOpenFailed:
    reason: str
    token: int | None = None


@dataclass(frozen=True)
class SessionClosed:
    uid: str
    reason: str


@dataclass(frozen=True)
class ClearEnded:
    """A press acknowledged the "ended by itself" LED pattern."""


@dataclass(frozen=True)
class Committed:
    """The open session's committed frame count, as the writer reports it."""

    frames: int


Event = (Start | Stop | Shutdown | DurationReached | CameraLost | CameraAbsent | CameraRestored | CameraRestarted | CameraFailed
         | DiskFull | StoreError | StoreRestored | EngineReady | EngineFailed | SessionOpened | SessionOpenFailed
         | SessionClosed | Committed | ClearEnded)


# -- actions: what the runtime must do ------------------------------------------------------------------
@dataclass(frozen=True)
class Reply:
    """Answer the request behind ``token`` (None: nobody waits, e.g. a button press)."""

    token: int | None
    ok: bool
    session_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class OpenSession:
    """Open a sessions row; answer ``token`` with its uid; then report SessionOpened or SessionOpenFailed."""

    origin: str
    bed_label: str | None
    token: int | None


@dataclass(frozen=True)
class CloseSession:
    """Stop feeding frames, commit the ones in flight, close the row with ``reason``; answer ``token``;
    then report SessionClosed."""

    uid: str
    reason: str
    detail: str | None = None
    token: int | None = None


@dataclass(frozen=True)
class RecordEvent:
    """Write an ``events`` row (of the open session when there is one)."""

    kind: str
    detail: str | None = None


@dataclass(frozen=True)
class Exit:
    """No session is open and a shutdown was asked: the runtime closes everything and ends."""


Action = Reply | OpenSession | CloseSession | RecordEvent | Exit


def start_refusal(s: BoxState) -> str | None:
    """Why a start is refused in this state, or None when it would be accepted."""
    if s.shutting_down:
        return "the box is shutting down"
    if s.state == "recording":
        return f"already recording {s.session_uid}"
    if s.state == "starting":
        return "a session is starting"
    if s.state == "stopping":
        return f"session {s.session_uid} is stopping"
    if s.store == "error":
        return f"store error: {s.store_detail}" if s.store_detail else "store error"
    if s.store == "disk_full":
        return f"disk full: {s.store_detail}" if s.store_detail else "disk full"
    # the camera first: what a nurse can act on (the engine waits for the source to warm up)
    if s.camera == "absent":
        return "camera absent"
    if s.camera == "lost":
        return "camera lost"
    if s.camera == "error":
        return f"camera error: {s.camera_detail}" if s.camera_detail else "camera error"
    if s.engine == "warming":
        return "engine warming up"
    if s.engine == "error":
        return f"engine error: {s.engine_detail}" if s.engine_detail else "engine error"
    return None


def _close(s: BoxState, reason: str, detail: str | None = None, token: int | None = None,
           **changes) -> tuple[BoxState, list[Action]]:
    assert reason in END_REASONS, reason
    return (replace(s, state="stopping", ending_reason=reason, **changes),
            [CloseSession(s.session_uid, reason, detail, token)])


def transition(s: BoxState, e: Event) -> tuple[BoxState, list[Action]]:
    """The next state and the actions to carry out, in order. Total: every (state, event) pair has
    an answer; an event that does not apply changes nothing."""
    if isinstance(e, Start):
        refusal = start_refusal(s)
        if refusal is not None:
            return s, [Reply(e.token, False, error=refusal)]
        return (replace(s, state="starting", bed_label=e.bed_label, ended_by_itself=False),
                [OpenSession(e.origin, e.bed_label, e.token)])

    if isinstance(e, Stop):
        if s.state == "recording":
            return _close(s, "stopped", token=e.token)
        if s.state == "stopping":
            return s, [Reply(e.token, False, session_id=s.session_uid, error=f"session {s.session_uid} is already stopping")]
        if s.state == "starting":
            return s, [Reply(e.token, False, error="a session is starting; stop it once it records")]
        return s, [Reply(e.token, False, error="not recording")]

    if isinstance(e, Shutdown):
        s = replace(s, shutting_down=True)
        if s.state == "recording":
            return _close(s, e.reason)
        if s.state == "idle":
            return s, [Exit()]
        return s, []  # starting: closed as soon as it opens; stopping: exits once closed

    if isinstance(e, SessionOpened):
        if s.state != "starting":
            return s, []
        s = replace(s, state="recording", session_uid=e.uid, bed_label=e.bed_label, frames=0, ending_reason=None)
        if s.shutting_down:
            return _close(s, "shutdown")
        return s, []

    if isinstance(e, SessionOpenFailed):
        if s.state != "starting":
            return s, []
        s = replace(s, state="idle", bed_label=None)
        return s, [Reply(e.token, False, error=e.reason)] + ([Exit()] if s.shutting_down else [])

    if isinstance(e, SessionClosed):
        if s.state != "stopping" or e.uid != s.session_uid:
            return s, []
        s = replace(s, state="idle", session_uid=None, bed_label=None, ending_reason=None, last_end_reason=e.reason,
                    ended_by_itself=e.reason in SELF_ENDED_REASONS)
        return s, [Exit()] if s.shutting_down else []

    if isinstance(e, DurationReached):
        if s.state == "recording":
            return _close(s, "duration")
        return s, []

    if isinstance(e, Committed):
        if s.state in ("recording", "stopping") and e.frames > s.frames:
            return replace(s, frames=e.frames), []
        return s, []

    if isinstance(e, DiskFull):
        s2 = replace(s, store="disk_full", store_detail=e.detail or None)
        if s.store == "error":  # an error is worse; a full disk does not hide it
            s2 = s
        if s.state == "recording":
            return _close(s2, "disk_full", e.detail or None)
        return s2, [RecordEvent("disk_full", e.detail or None)] if s.store == "ok" else []

    if isinstance(e, StoreError):
        s2 = replace(s, store="error", store_detail=e.detail or None)
        if s.state == "recording":
            return _close(s2, "error", f"store: {e.detail}" if e.detail else "store error")
        return s2, []

    if isinstance(e, StoreRestored):
        return replace(s, store="ok", store_detail=None), []

    if isinstance(e, EngineReady):
        return replace(s, engine="ready", engine_detail=None), []

    if isinstance(e, EngineFailed):
        s2 = replace(s, engine="error", engine_detail=e.detail or None)
        if s.state == "recording":
            return _close(s2, "error", f"pose: {e.detail}" if e.detail else "pose engine failed")
        return s2, []

    if isinstance(e, CameraLost):
        if s.camera in ("lost", "error"):
            return s, []
        s2 = replace(s, camera="lost", camera_detail=e.detail or None)
        return s2, [RecordEvent("camera_lost", e.detail or None)]

    if isinstance(e, CameraAbsent):
        reset = [RecordEvent("camera_usb_reset", e.usb_reset)] if e.usb_reset else []
        if s.camera == "absent":
            return s, reset
        s2 = replace(s, camera="absent", camera_detail=e.detail or None)
        return s2, ([RecordEvent("camera_lost", e.detail or "camera absent")] if s.camera == "ok" else []) + reset

    if isinstance(e, CameraFailed):
        if s.camera == "error":
            return s, []
        return replace(s, camera="error", camera_detail=e.detail or None), [RecordEvent("error", f"camera: {e.detail}")]

    if isinstance(e, CameraRestarted):
        return s, [RecordEvent("camera_restarted", e.detail or None)]

    if isinstance(e, CameraRestored):
        if s.camera == "ok":
            return s, []
        s2 = replace(s, camera="ok", camera_detail=None, camera_seen=True)
        return s2, [RecordEvent("camera_restored", e.detail or None)] if s.camera_seen else []

    if isinstance(e, ClearEnded):
        return replace(s, ended_by_itself=False), []

    raise TypeError(f"not a box event: {e!r}")  # a programming error, never a user's
