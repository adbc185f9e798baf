"""The status LED: which pattern the box shows, and whether the LED is lit at a given moment. Pure.

``PATTERNS`` is the one place the patterns are defined; ``RULES`` the one place their precedence
is (the first rule that applies wins); ``led_pattern(view, now)`` applies them, ``led_is_on``
says whether a pattern lights the LED at ``now``. docs/controls.md's tables are generated from
these (``python -m appliance.status.led --write docs/controls.md``; a test keeps them equal).

The two feedback patterns (two blinks for a refused press, the flicker of an acknowledged one)
run once, from the moment of their press (their phase origin ``t0_s``), for one period, and then
the pattern underneath shows again. The others repeat with their phase taken from t0_s = 0 (the
monotonic clock), so a pattern does not restart each time the view is rebuilt.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from .button import ACTIVE_STATES, INTENTS, PRESS_KINDS, Press, press_intent

HEALTH_STATES = ("ok", "degraded", "error")
_NS = 1_000_000_000


@dataclass(frozen=True)
class LedView:
    """What the LED shows is decided from: read from the runtime's Health snapshot each loop turn.

    ready: a start would be accepted now; state: idle/starting/recording/stopping; health:
    ok/degraded/error; ended_by_itself: the last session ended by duration, disk full or error,
    until the next press; refused_at_s / acked_at_s: monotonic times of the last refused and the
    last acknowledged press (None: none yet).
    """

    ready: bool
    state: str
    health: str
    ended_by_itself: bool = False
    refused_at_s: float | None = None
    acked_at_s: float | None = None

    def __post_init__(self) -> None:
        if self.health not in HEALTH_STATES:
            raise ValueError(f"health must be one of {HEALTH_STATES}, got {self.health!r}")
        if self.state != "idle" and self.state not in ACTIVE_STATES:
            raise ValueError(f"state must be idle, {', '.join(ACTIVE_STATES)}; got {self.state!r}")


@dataclass(frozen=True)
class LedPattern:
    """A repeating on/off pattern.

    period_s: its length; on_intervals: the (start, end) seconds within a period the LED is lit,
    start inclusive, end exclusive (steady on: ((0, period),); off: ()); meaning: what it tells
    staff; t0_s: the monotonic time its phase starts from.
    """

    name: str
    period_s: float
    on_intervals: tuple[tuple[float, float], ...]
    meaning: str = ""
    t0_s: float = 0.0

    def __post_init__(self) -> None:
        if not self.period_s > 0:
            raise ValueError(f"{self.name}: period_s must be > 0, got {self.period_s!r}")
        end = 0.0
        for a, b in self.on_intervals:
            if not (end <= a < b <= self.period_s):
                raise ValueError(f"{self.name}: on_intervals must be ordered, disjoint, non-empty and within "
                                 f"[0, {self.period_s:g}], got {self.on_intervals!r}")
            end = b


def _pattern(name: str, period_s: float, on: tuple[tuple[float, float], ...], meaning: str) -> tuple[str, LedPattern]:
    return name, LedPattern(name, period_s, on, meaning)


PATTERNS: dict[str, LedPattern] = dict((
    _pattern("off", 1.0, (), "idle and ready: a short press starts a session"),
    _pattern("steady", 1.0, ((0.0, 1.0),), "recording (also while the session opens and closes)"),
    _pattern("slow_blink", 2.0, ((0.0, 1.0),), "degraded: recording or ready, with a condition to look at (camera lost, disk full)"),
    _pattern("fast_blink", 0.25, ((0.0, 0.125),), "error: the box cannot record (store, engine or camera in error, a stage stalled)"),
    _pattern("not_ready", 1.0, ((0.0, 0.1),), "not ready: booting, engine warming up, camera absent or lost, disk full; a press is refused"),
    _pattern("ended", 3.0, ((0.0, 0.15), (0.3, 0.45), (0.6, 0.75)),
             "the last session ended by itself (its duration, disk full, an error); the next press clears it"),
    _pattern("two_blinks", 1.5, ((0.15, 0.35), (0.55, 0.75)), "a press was refused (shown once, then back)"),
    _pattern("ack", 0.4, ((0.1, 0.2), (0.3, 0.4)), "a short press while recording was acknowledged: it does not stop (hold to stop)"),
))
#: Patterns shown once from their press, for one period.
TRANSIENT = ("two_blinks", "ack")


def _latest_feedback(v: LedView) -> tuple[str, float] | None:
    """The newer of the last refused and the last acknowledged press."""
    marks = [(t, name) for name, t in (("two_blinks", v.refused_at_s), ("ack", v.acked_at_s)) if t is not None]
    if not marks:
        return None
    t, name = max(marks)
    return name, t


def _feedback(name: str) -> Callable[[LedView, float], float | None]:
    def rule(v: LedView, now_s: float) -> float | None:
        latest = _latest_feedback(v)
        if latest is None or latest[0] != name:
            return None
        t = latest[1]
        age_ns = round((now_s - t) * _NS)  # whole nanoseconds, as led_is_on: exact at the period's end
        return t if 0 <= age_ns < round(PATTERNS[name].period_s * _NS) else None
    return rule


def _when(test: Callable[[LedView], bool]) -> Callable[[LedView, float], float | None]:
    return lambda v, now_s: 0.0 if test(v) else None


#: Precedence, first match wins: (pattern, rule -> its phase origin or None when it does not apply, condition).
RULES: tuple[tuple[str, Callable[[LedView, float], float | None], str], ...] = (
    ("two_blinks", _feedback("two_blinks"), "a press was refused less than one period ago (and no press since)"),
    ("ack", _feedback("ack"), "a press was acknowledged less than one period ago (and no press since)"),
    ("fast_blink", _when(lambda v: v.health == "error"), "health is error"),
    ("slow_blink", _when(lambda v: v.state in ACTIVE_STATES and v.health == "degraded"), "a session is open and health is degraded"),
    ("steady", _when(lambda v: v.state in ACTIVE_STATES), "a session is open (starting, recording, stopping)"),
    ("ended", _when(lambda v: v.ended_by_itself), "idle, the last session ended by itself, no press since"),
    ("not_ready", _when(lambda v: not v.ready), "idle and not ready"),
    ("slow_blink", _when(lambda v: v.health == "degraded"), "idle, ready, health degraded"),
    ("off", _when(lambda v: True), "idle, ready, healthy"),
)


def led_pattern(view: LedView, now_s: float) -> LedPattern:
    """The pattern the LED shows now: the first of RULES that applies."""
    for name, rule, _ in RULES:
        t0 = rule(view, now_s)
        if t0 is not None:
            pattern = PATTERNS[name]
            return replace(pattern, t0_s=t0) if t0 != pattern.t0_s else pattern
    raise AssertionError("the last rule always applies")  # pragma: no cover


def led_is_on(pattern: LedPattern, now_s: float) -> bool:
    """Whether ``pattern`` lights the LED at ``now_s``: its phase (from t0_s), in whole nanoseconds
    so that boundaries are exact, falls in one of its on intervals (start inclusive, end exclusive)."""
    period_ns = round(pattern.period_s * _NS)
    phase_ns = round((now_s - pattern.t0_s) * _NS) % period_ns
    return any(round(a * _NS) <= phase_ns < round(b * _NS) for a, b in pattern.on_intervals)


# -- docs/controls.md -------------------------------------------------------------------------------------
DOCS_BEGIN = "<!-- generated by `python -m appliance.status.led --write docs/controls.md`: begin -->"
DOCS_END = "<!-- generated: end -->"
_STRIP_STEP_S = 0.05
_STRIP_S = 3.0


def _strip(p: LedPattern) -> str:
    """The pattern drawn one character per 50 ms: '#' lit, '.' dark (3 s, or one period for a transient one)."""
    length = p.period_s if p.name in TRANSIENT else _STRIP_S
    n = round(length / _STRIP_STEP_S)
    return "".join("#" if led_is_on(p, (i + 0.5) * _STRIP_STEP_S) else "." for i in range(n))


def _intent_rows() -> list[tuple[str, str, str]]:
    cases = [("idle, ready", "idle", (True,), False), ("idle, not ready", "idle", (False,), False),
             ('idle, "ended" showing', "idle", (True, False), True)]
    cases += [(s, s, (True, False), False) for s in ACTIVE_STATES]
    rows = []
    for label, state, readies, ended in cases:
        cells = []
        for kind in PRESS_KINDS:
            got = {press_intent(Press(kind, 0.0), state, r, ended) for r in readies}
            if len(got) != 1:  # the table would lie: say so instead of printing it
                raise AssertionError(f"press_intent({kind}, {state}, ended={ended}) depends on ready: {got}")
            cells.append(got.pop())
        rows.append((label, *cells))
    return rows


_INTENT_MEANING = {
    "start": "start a session, as `agma start` does",
    "stop": "stop the session (ends as `stopped`)",
    "ack": "nothing changes; the LED flickers (`ack`)",
    "refuse": "nothing changes; the LED blinks twice (`two_blinks`)",
    "clear": "clear the `ended` pattern; nothing else",
}


def docs_markdown() -> str:
    """The generated part of docs/controls.md: what a press does, the patterns, their precedence."""
    assert set(_INTENT_MEANING) == set(INTENTS)
    lines = [DOCS_BEGIN, "", "### What a press does", "", "| box | short press | long press |", "|---|---|---|"]
    for label, short, long_ in _intent_rows():
        lines.append(f"| {label} | {short} | {long_} |")
    lines += ["", "| intent | effect |", "|---|---|"]
    lines += [f"| {k} | {_INTENT_MEANING[k]} |" for k in INTENTS]
    lines += ["", "### LED patterns", "",
              "Drawn one character per 50 ms (`#` lit, `.` dark): 3 s, or the one period a feedback pattern is shown for.",
              "", "| pattern | meaning | period | lit during (s within the period) | looks like |", "|---|---|---|---|---|"]
    for p in PATTERNS.values():
        lit = ", ".join(f"{a:g}–{b:g}" for a, b in p.on_intervals) or "never"
        lines.append(f"| `{p.name}` | {p.meaning} | {p.period_s:g} s | {lit} | `{_strip(p)}` |")
    lines += ["", "### Which pattern shows", "", "The first line that applies:", ""]
    lines += [f"{i}. `{name}`: {cond}" for i, (name, _, cond) in enumerate(RULES, 1)]
    lines += ["", DOCS_END]
    return "\n".join(lines) + "\n"


def generated_part(text: str) -> str:
    """The generated block of a docs/controls.md text (markers included), or '' when it has none."""
    a, b = text.find(DOCS_BEGIN), text.find(DOCS_END)
    if a < 0 or b < a:
        return ""
    return text[a:b + len(DOCS_END)] + "\n"


def _write(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    old = generated_part(text)
    if not old:
        raise SystemExit(f"{path}: no generated block ({DOCS_BEGIN} ... {DOCS_END})")
    path.write_text(text.replace(old, docs_markdown(), 1), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m appliance.status.led", description="docs/controls.md's generated tables")
    ap.add_argument("--write", metavar="FILE", help="replace the generated block of FILE (else print it)")
    args = ap.parse_args(argv)
    if args.write:
        _write(Path(args.write))
    else:
        sys.stdout.write(docs_markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
