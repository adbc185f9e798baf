"""Progress and health: heartbeats the stages stamp, the supervisor's judgement, the Health snapshot.

Each stage (inference, writer, each status sink) owns a ``Heartbeat`` and stamps it whenever its
loop turns or it finishes a piece of work; a loop that waits for input waits with a timeout, so a
healthy idle stage keeps beating. A stage whose heartbeat is older than
``supervisor.stall_after_s`` is *stalled* (``judge_stalls``): it is stuck inside a call (a hung
engine, a blocked disk). Waiting is not a stall: an absent or lost camera and an unreachable
broker are *conditions* the box reports (camera, mqtt), judged from their own evidence (frame
arrival, connection state), never from a heartbeat.

``Health`` is the frozen snapshot every status sink reads (`agma status`, later MQTT, systemd's
STATUS= line, the LED); ``status_document`` is the one place that turns it into the status JSON.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Stages whose heartbeats the supervisor judges (capture is judged as the camera's condition).
JUDGED_STAGES = ("inference", "store-writer", "control-socket", "button-led", "mqtt")


class Heartbeat:
    """A stage's monotonic progress stamp (time.monotonic() seconds). Stamp it from the stage's own thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.t_mono = time.monotonic()

    def beat(self) -> None:
        self.t_mono = time.monotonic()

    def age_s(self, now_mono: float) -> float:
        return max(0.0, now_mono - self.t_mono)


def judge_stalls(ages_s: Mapping[str, float], stall_after_s: float) -> tuple[str, ...]:
    """Names of the stages whose last progress is older than stall_after_s, sorted. Pure."""
    return tuple(sorted(name for name, age in ages_s.items() if age > stall_after_s))


class RateMeter:
    """Frames per second over a sliding window of recent counts (thread-safe)."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._samples: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def add(self, now_mono: float, count: int) -> None:
        with self._lock:
            self._samples.append((now_mono, count))
            while len(self._samples) > 2 and self._samples[1][0] < now_mono - self.window_s:
                self._samples.pop(0)

    def rate(self) -> float:
        with self._lock:
            if len(self._samples) < 2:
                return 0.0
            (t0, c0), (t1, c1) = self._samples[0], self._samples[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0

    def reset(self) -> None:
        with self._lock:
            self._samples.clear()


class LatencyWindow:
    """The last ``size`` durations of one stage, in ms (thread-safe: one thread adds, any reads)."""

    def __init__(self, size: int = 1000) -> None:
        from collections import deque

        self._samples: deque = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, ms: float) -> None:
        if math.isfinite(ms):
            with self._lock:
                self._samples.append(ms)

    def percentiles(self) -> dict[str, float]:
        """{"p50", "p95", "p99"} in ms over the window; NaN each when it is empty."""
        with self._lock:
            values = sorted(self._samples)
        if not values:
            return {"p50": float("nan"), "p95": float("nan"), "p99": float("nan")}

        def q(p: float) -> float:  # nearest rank
            return values[min(len(values) - 1, max(0, math.ceil(p * len(values)) - 1))]
        return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99)}


@dataclass(frozen=True)
class Health:
    """The box at one moment: what `agma status` answers and every status sink reads.

    state: idle/starting/recording/stopping; health: ok/degraded/error with ``error`` its text;
    frames: committed frames of the open session; fps: committed frames per second over the last
    few seconds; dropped_frames: frames of the open session not stored (inference or writer behind);
    elapsed_s: since the open session started; camera: ok/lost/absent/error; engine:
    warming/ready/error; store: ok/disk_full/error; disk_free_mb: free space beside the database
    (NaN when unknown); source_opens / engine_loads: how often the box opened its frame source and
    loaded its engine (they do not move between sessions); heartbeat_age_s: per judged stage;
    stalled: stages judged stalled; queue_depths: frames waiting per queue.
    session_started_ns: when the open session started (ns since the Unix epoch), else None;
    valid_joint_ratio: valid joints / all joints of the open session's estimated frames (NaN
    before its first); latency_ms: per stage, {"p50", "p95", "p99"} over its last 1,000 frames;
    ring_overruns / ring_dropped: capture process only, the ring reader's counts (0 otherwise);
    mqtt: the MQTT link (off, connecting, connected, disconnected) with ``mqtt_detail`` why.
    days_left: days until the free space beside the database falls to store.min_free_mb at the
    recording rate of the last 7 days if nothing is pruned (store/retention.py); NaN when there is
    no rate (nothing recorded in those days) or it is unknown.
    """

    state: str
    health: str
    error: str | None
    session_id: str | None
    bed_label: str | None
    frames: int
    fps: float
    dropped_frames: int
    elapsed_s: float
    camera: str
    engine: str
    store: str
    disk_free_mb: float
    source_opens: int
    engine_loads: int
    ready: bool
    last_end_reason: str | None = None
    ended_by_itself: bool = False
    stalled: tuple[str, ...] = ()
    heartbeat_age_s: Mapping[str, float] = field(default_factory=dict)
    queue_depths: Mapping[str, int] = field(default_factory=dict)
    session_started_ns: int | None = None
    valid_joint_ratio: float = float("nan")
    latency_ms: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    ring_overruns: int = 0
    ring_dropped: int = 0
    mqtt: str = "off"
    mqtt_detail: str | None = None
    days_left: float = float("nan")


#: The keys of the status document, in order (docs/usage.md lists them; MQTT's status schema requires them).
STATUS_KEYS = ("state", "health", "error", "session_id", "bed_label", "frames", "fps", "dropped_frames", "elapsed_s",
               "camera", "engine", "store", "disk_free_mb", "days_left", "source_opens", "engine_loads", "ready",
               "last_end_reason", "stalled", "heartbeat_age_s", "queue_depths", "mqtt")


def status_document(h: Health) -> dict:
    """The `agma status` JSON object from a Health snapshot (NaN -> None: JSON has no NaN)."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, float):
            return round(v, 3)
        if isinstance(v, tuple):
            return list(v)
        if isinstance(v, Mapping):
            return {k: clean(x) for k, x in v.items()}
        return v
    return {k: clean(getattr(h, k)) for k in STATUS_KEYS}
