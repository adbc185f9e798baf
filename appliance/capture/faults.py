"""Fault injection for the camera process: ``KIND@START+DURATION`` (seconds since the source was
first opened, kept across capture-process restarts). Pure: text in, faults out.

Kinds: ``stop`` (no frames, like an unplugged cable, then frames again; the process keeps
beating), ``hang`` (the process blocks in grab and never returns until killed; DURATION is 0),
``crash`` (the process exits non-zero; DURATION 0), ``absent`` (the device is missing at open for
DURATION). Applied inside the capture process to the synthetic source, so the real supervision
code is what a test exercises. One kind acts outside the capture process: ``engine_hang`` (the
simulated model blocks for ever in inference from START on the source's clock; DURATION is 0):
runtime/factories.py hands its start to the pose builder, so the inference thread really hangs
(the supervisor's stall, the systemd watchdog's silence).

The clock: a fault acts on the time of the frame the source delivers (its ``t_ns`` since the
origin), not on when the process gets round to it, so the first frame after a fault has ``t_ns``
at or after the fault's end however slow the machine. A hang or a crash acts once, in the first
capture process whose clock reaches its start; the process says so (capture/child.py) before
acting, and its replacements are told which ones have fired (``fired``, by ``text()``).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

KINDS = ("stop", "hang", "crash", "absent", "engine_hang")
_FAULT = re.compile(r"^(?P<kind>[a-z_]+)@(?P<start>\d+(?:\.\d+)?)\+(?P<dur>\d+(?:\.\d+)?)$")
#: The exit status of a process that crashed by a `crash` fault.
CRASH_STATUS = 3


@dataclass(frozen=True)
class Fault:
    kind: str
    start_s: float
    duration_s: float

    def active(self, t_s: float, fired=frozenset()) -> bool:
        """Whether the fault acts at t_s (seconds since the source was first opened): stop and
        absent during [start, start + duration); hang and crash from their start on unless their
        ``text()`` is in ``fired`` (they act once: the replacement of the process they hit is spared);
        engine_hang from its start on."""
        if self.kind in ("hang", "crash", "engine_hang"):
            return self.start_s <= t_s and self.text() not in fired
        return self.start_s <= t_s < self.start_s + self.duration_s

    def text(self) -> str:
        """The inverse of parse_fault."""
        return f"{self.kind}@{self.start_s:g}+{self.duration_s:g}"


def parse_fault(text: str) -> Fault:
    """One ``KIND@START+DURATION`` -> Fault; ValueError with the reason."""
    m = _FAULT.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not KIND@START+DURATION (e.g. stop@10+4)")
    kind = m["kind"]
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r} in {text!r} (known: {', '.join(KINDS)})")
    start, dur = float(m["start"]), float(m["dur"])
    if not (math.isfinite(start) and math.isfinite(dur)):
        raise ValueError(f"{text!r}: start and duration must be finite")
    return Fault(kind, start, dur)


def parse_faults(texts) -> tuple[Fault, ...]:
    return tuple(parse_fault(t) for t in texts)


def config_check(value: list) -> str | None:
    """config.py's check for sim.faults: None when valid, else the reason."""
    for item in value:
        if not isinstance(item, str):
            return "expected a list of strings KIND@START+DURATION"
        try:
            parse_fault(item)
        except ValueError as exc:
            return str(exc)
    return None


def engine_hang_start_s(texts) -> float | None:
    """The earliest ``engine_hang`` fault's start among sim.faults' texts, seconds; None without one."""
    return min((f.start_s for f in parse_faults(texts) if f.kind == "engine_hang"), default=None)
