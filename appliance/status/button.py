"""The box's one button: debouncing, short and long presses, and what a press means. Pure: no I/O, no clock.

``ButtonDecoder`` is fed the raw (bouncy) level changes of the button line with their monotonic
timestamps (``edge``) and the passing of time (``tick``); it returns the presses it recognises:

- **debounce**: a level counts only once it has been stable for ``debounce_s`` (30 ms); a burst of
  contact bounces counts once, a glitch shorter than that is ignored. A press starts at the last
  edge of its bounce burst;
- **long press**: the button held for ``long_press_s`` (2 s) is recognised *while it is still held*
  (the nurse sees the LED react and can let go), exactly once however long it stays held; its
  release is not a short press;
- **short press**: a press released (the release confirmed) before ``long_press_s``.

``Press.t_s`` is the instant the rule was met — the confirmed release (release edge +
debounce_s) of a short press, press start + long_press_s of a long one — not the time of the call
that noticed it, so the result does not depend on how often ``tick`` is called. Time is kept in
integer nanoseconds inside, so boundaries are exact (held exactly long_press_s is long).

``press_intent`` says what a press asks of the box in its current state; the runtime's control
loop calls it (the button thread only enqueues the Press): a short press while idle starts;
stopping needs a long press, so a brush of the hand never ends a recording; a short press while
recording only acknowledges on the LED. docs/controls.md tabulates it (generated).
"""
from __future__ import annotations

from dataclasses import dataclass

PRESS_KINDS = ("short", "long")
#: What a press asks: start a session, stop it, acknowledge on the LED (nothing else changes),
#: refuse (two blinks: the box cannot do what a press here would mean), clear the "ended by
#: itself" pattern (and nothing else).
INTENTS = ("start", "stop", "ack", "refuse", "clear")
#: Session states in which a session is open (runtime/machine.py SESSION_STATES minus idle).
ACTIVE_STATES = ("starting", "recording", "stopping")

_NS = 1_000_000_000


def _ns(t_s: float) -> int:
    return round(t_s * _NS)


@dataclass(frozen=True)
class ButtonTiming:
    """debounce_s: how long a level must be stable to count; long_press_s: how long a hold stops a recording."""

    debounce_s: float = 0.030
    long_press_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.debounce_s > 0:
            raise ValueError(f"debounce_s must be > 0, got {self.debounce_s!r}")
        if not self.long_press_s > self.debounce_s:
            raise ValueError(f"long_press_s ({self.long_press_s!r}) must be longer than debounce_s ({self.debounce_s!r})")


@dataclass(frozen=True)
class Press:
    """A recognised press: kind "short" or "long"; t_s: the monotonic time (s) it was recognised."""

    kind: str
    t_s: float

    def __post_init__(self) -> None:
        if self.kind not in PRESS_KINDS:
            raise ValueError(f"kind must be one of {PRESS_KINDS}, got {self.kind!r}")


class ButtonDecoder:
    """Raw level changes and time in, presses out (see the module docstring).

    initial_pressed: the level when the line was opened. A button already held then (a hand on it
    at boot, or a line wired with the wrong button.active_low) is not a press: nothing is
    recognised until it has been released.

    Timestamps must be monotonic; one earlier than the latest seen (an edge read just after a
    tick) counts as the latest seen.
    """

    def __init__(self, timing: ButtonTiming, initial_pressed: bool = False) -> None:
        self.timing = timing
        self._debounce_ns = _ns(timing.debounce_s)
        self._long_ns = _ns(timing.long_press_s)
        self._now_ns: int | None = None
        self._raw = initial_pressed          # the line's last reported level
        self._raw_since_ns = 0               # when it last changed (or last showed activity)
        self._stable = initial_pressed       # the debounced level
        self._press_t0_ns = 0                # start of the current debounced press
        self._consumed = initial_pressed     # the current press already produced its Press (long) or never counts

    @property
    def pressed(self) -> bool:
        """The debounced level: the button counts as held."""
        return self._stable

    def edge(self, t_s: float, pressed: bool) -> list[Press]:
        """The line changed to ``pressed`` at ``t_s`` (raw, possibly a bounce) -> presses recognised up to t_s."""
        t = self._advance_to(_ns(t_s))
        out = self._advance(t)
        if pressed == self._raw:
            # the same level twice: an opposite edge was missed (too short for the kernel to report
            # both); if a change is pending the line was not stable, so its timer restarts
            if self._raw != self._stable:
                self._raw_since_ns = t
            return out
        self._raw = pressed
        self._raw_since_ns = t  # back to the debounced level: a glitch, the pending change is cancelled
        return out

    def tick(self, t_s: float) -> list[Press]:
        """Time has passed up to ``t_s`` with no edge -> presses recognised by then."""
        return self._advance(self._advance_to(_ns(t_s)))

    # -- inside ----------------------------------------------------------------------------------------
    def _advance_to(self, t_ns: int) -> int:
        if self._now_ns is not None and t_ns < self._now_ns:
            t_ns = self._now_ns
        self._now_ns = t_ns
        return t_ns

    def _advance(self, t: int) -> list[Press]:
        out: list[Press] = []
        if self._raw != self._stable and t - self._raw_since_ns >= self._debounce_ns:
            confirmed_at = self._raw_since_ns + self._debounce_ns
            self._stable = self._raw
            if self._stable:
                self._press_t0_ns = self._raw_since_ns
                self._consumed = False
            elif not self._consumed:
                out.append(Press("short", confirmed_at / _NS))
        # long: still held (the raw level too: a release not yet confirmed may be the real one)
        if (self._stable and self._raw and not self._consumed
                and t - self._press_t0_ns >= self._long_ns):
            self._consumed = True
            out.append(Press("long", (self._press_t0_ns + self._long_ns) / _NS))
        return out


def press_intent(press: Press, state: str, ready: bool, ended_by_itself: bool = False) -> str:
    """What ``press`` asks of the box: one of INTENTS.

    state: the session state (idle, starting, recording, stopping); ready: a start would be
    accepted now (runtime/machine.py ``BoxState.ready``: false while booting, the engine warming
    up, the camera absent, the store failed or full); ended_by_itself: the LED shows that the last
    session ended by itself (duration, disk full, error).

    - recording: a long press stops, a short press only acknowledges;
    - starting / stopping: the box is already changing state: acknowledged, nothing else;
    - idle, "ended by itself" showing: the press clears it and does nothing else (the nurse
      acknowledges what happened; a second press starts, so nobody starts a session by accident);
    - idle, not ready: refused (two blinks; the runtime's own start refusal gives the reason);
    - idle, ready: a short press starts; a long press is refused (two blinks: "that did nothing,
      the box is not recording" — a hold never starts a session).
    """
    if state != "idle" and state not in ACTIVE_STATES:
        raise ValueError(f"state must be idle, {', '.join(ACTIVE_STATES)}; got {state!r}")
    if state == "recording":
        return "stop" if press.kind == "long" else "ack"
    if state in ACTIVE_STATES:
        return "ack"
    if ended_by_itself:
        return "clear"
    if not ready:
        return "refuse"
    return "start" if press.kind == "short" else "refuse"
