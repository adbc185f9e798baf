"""The button and LED on the box's GPIO header: the only module that imports the GPIO library, lazily.

The library is libgpiod's Python bindings, ``gpiod`` 2.x from PyPI (the ``box`` extra): its wheels
(aarch64 and x86-64, Python 3.10+) carry libgpiod 2 statically linked, so the system's libgpiod 1.6
(Ubuntu 22.04 / JetPack 6) does not matter; it needs nothing but the GPIO character device
(``/dev/gpiochipN``: no sysfs, no /proc/device-tree), which a hardened unit grants with
``DeviceAllow=/dev/gpiochip0 rw``; and its edge events carry kernel timestamps (CLOCK_MONOTONIC,
the clock of ``time.monotonic()``), which is what the pure decoder (status/button.py) wants.
docs/controls.md says why not Jetson.GPIO, and how to wire the button and the LED.

Two layers:

- ``GpiodLines``: the hardware, nothing else: the button line (input, both edges, bias toward
  "released") and the LED line (output, off) in one request; ``read_level``, ``read_edges``
  (wait up to a timeout, return ``(t_s, pressed)`` pairs), ``set_led``, ``close``. Anything with
  those four methods (``LineAdapter``) can stand in for it: the tests use a simulated one.
- ``ButtonLed``: the status sink the runtime opens once when ``button.enabled``: one named,
  non-daemon thread ``button-led`` that waits for edges (20 ms at most), feeds the decoder,
  hands each Press to ``on_press`` (the runtime's enqueue: it decides what the press means with
  ``press_intent``), and drives the LED from ``led_pattern(view(), now)``. Its ``heartbeat``
  (time.monotonic()) moves each time the loop turns.
"""
from __future__ import annotations

import errno
import glob
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..errors import AgmaError
from .button import ButtonDecoder, ButtonTiming, Press
from .led import LedView, led_is_on, led_pattern

log = logging.getLogger(__name__)

#: The longest the loop waits for an edge before it moves time and the LED on, seconds.
POLL_S = 0.020
#: What `pip install` needs for the GPIO library (pyproject.toml's `box` extra says the same).
GPIOD_REQUIREMENT = "gpiod>=2.5,<3"
MISSING_LIBRARY = ("button.enabled is true but the GPIO library is not installed: "
                   f"pip install 'agma-appliance[box]' (or pip install '{GPIOD_REQUIREMENT}')")
CONSUMER = "agma"


class LineAdapter(Protocol):
    """The button and LED lines, as the loop needs them."""

    def read_level(self) -> bool: ...                                       # the button is held now

    def read_edges(self, timeout_s: float) -> list[tuple[float, bool]]: ...  # (monotonic s, pressed), oldest first

    def set_led(self, on: bool) -> None: ...

    def close(self) -> None: ...


def import_gpiod():
    """The gpiod 2.x module, or AgmaError with one line saying how to install it."""
    try:
        import gpiod
    except ImportError:
        raise AgmaError(MISSING_LIBRARY) from None
    if not hasattr(gpiod, "request_lines") or not hasattr(gpiod, "LineSettings"):
        # Ubuntu's python3-libgpiod (1.6) has the same import name and another API
        version = getattr(gpiod, "__version__", "1.x")
        raise AgmaError(f"button.enabled is true but the gpiod module found ({version}, "
                        f"{getattr(gpiod, '__file__', '?')}) is libgpiod 1.x's: pip install '{GPIOD_REQUIREMENT}'")
    return gpiod


def _chip_path(gpiod, chip: str) -> str:
    """button.chip is a device path, or a chip label (`gpiodetect` shows both) looked up among /dev/gpiochip*."""
    if chip.startswith("/"):
        return chip
    labels = []
    for path in sorted(glob.glob("/dev/gpiochip*")):
        try:
            with gpiod.Chip(path) as c:
                label = c.get_info().label
        except OSError:
            continue
        if label == chip:
            return path
        labels.append(f"{path} ({label})")
    raise AgmaError(f"button.chip {chip!r}: no GPIO chip has that label; found: {', '.join(labels) or 'no /dev/gpiochip*'}")


def _request_error(chip: str, button_line: int, led_line: int, exc: OSError) -> AgmaError:
    """One line for a failed open or line request: what, where, and what to check."""
    why = {
        errno.ENOENT: "no such device (gpiodetect lists the chips; is button.chip right?)",
        errno.EACCES: "permission denied (the daemon's user needs the group owning it, and a hardened "
                      "unit DeviceAllow=/dev/gpiochipN rw)",
        errno.EPERM: "operation not permitted (the unit's DevicePolicy/DeviceAllow?)",
        errno.ENODEV: "not a GPIO character device",
        errno.ENOTTY: "not a GPIO character device",
        errno.EBUSY: f"line {button_line} or {led_line} is in use by another program (gpioinfo shows its consumer)",
        errno.EINVAL: f"lines {button_line} (button) and {led_line} (LED) are not valid on this chip, or not with "
                      "these settings (gpioinfo lists its lines)",
    }.get(exc.errno, exc.strerror or str(exc))
    return AgmaError(f"button.chip {chip}: cannot open the button and LED lines: {why}")


def check_chip(chip: str, button_line: int, led_line: int) -> str:
    """`agma doctor`'s look at button.chip, requesting no line: the chip is a GPIO character device
    this process may open, it has both lines, and no other program holds them. -> one line saying
    what was found; AgmaError with the reason otherwise."""
    import os
    import stat

    if chip.startswith("/"):  # a path: what is wrong with it needs no library
        try:
            st = os.stat(chip)
        except FileNotFoundError:
            raise AgmaError(f"button.chip {chip}: no such device") from None
        except OSError as exc:
            raise AgmaError(f"button.chip {chip}: {exc.strerror or exc}") from None
        if not stat.S_ISCHR(st.st_mode):
            raise AgmaError(f"button.chip {chip}: not a character device")
    gpiod = import_gpiod()
    path = _chip_path(gpiod, chip)
    if not gpiod.is_gpiochip_device(path):
        raise AgmaError(f"button.chip {chip}: not a GPIO character device")
    try:
        with gpiod.Chip(path) as c:
            info = c.get_info()
            if max(button_line, led_line) >= info.num_lines:
                raise AgmaError(f"button.chip {chip} ({info.label}) has {info.num_lines} lines: no line "
                                f"{max(button_line, led_line)} (button.line {button_line}, button.led_line {led_line})")
            held = []
            for role, offset in (("button", button_line), ("LED", led_line)):
                line = c.get_line_info(offset)
                if line.used and line.consumer != CONSUMER:
                    held.append(f"{role} line {offset} is held by {line.consumer or 'another program'}")
            if held:
                raise AgmaError(f"button.chip {chip}: " + "; ".join(held))
            return f"{path} ({info.label}, {info.num_lines} lines): button line {button_line}, LED line {led_line} free or agma's"
    except OSError as exc:
        raise _request_error(chip, button_line, led_line, exc) from None


class GpiodLines:
    """The button and LED lines of one chip, through libgpiod 2 (one line request for both)."""

    def __init__(self, chip: str, button_line: int, led_line: int, active_low: bool, led_active_low: bool = False) -> None:
        if button_line == led_line:
            raise AgmaError(f"button.line and button.led_line are both {button_line}: the button and the LED need a line each")
        gpiod = import_gpiod()
        from gpiod.line import Bias, Direction, Edge, Value

        self._gpiod = gpiod
        self._active, self._inactive = Value.ACTIVE, Value.INACTIVE
        self.chip = chip
        self.button_line, self.led_line = button_line, led_line
        path = _chip_path(gpiod, chip)
        config = {
            # bias toward "released": a pull-up for a button wired to ground (active low); the
            # Tegra pins may ignore it (docs/controls.md: fit an external pull-up)
            button_line: gpiod.LineSettings(direction=Direction.INPUT, edge_detection=Edge.BOTH,
                                            bias=Bias.PULL_UP if active_low else Bias.PULL_DOWN,
                                            active_low=active_low),
            led_line: gpiod.LineSettings(direction=Direction.OUTPUT, active_low=led_active_low,
                                         output_value=Value.INACTIVE),
        }
        try:
            self._req = gpiod.request_lines(path, config=config, consumer=CONSUMER)
        except OSError as exc:
            raise _request_error(chip, button_line, led_line, exc) from None
        except ValueError as exc:  # gpiod's own checks (an offset out of range)
            raise AgmaError(f"button.chip {chip}: cannot open the button and LED lines: {exc}") from None
        self._last_seqno: int | None = None

    def read_level(self) -> bool:
        return bool(self._req.get_value(self.button_line))

    def read_edges(self, timeout_s: float) -> list[tuple[float, bool]]:
        if not self._req.wait_edge_events(timeout_s):
            return []
        rising = self._gpiod.EdgeEvent.Type.RISING_EDGE  # active-low lines: the kernel reports logical edges
        out = []
        for ev in self._req.read_edge_events():
            if self._last_seqno is not None and ev.line_seqno != self._last_seqno + 1:
                # the kernel's event buffer overflowed and dropped edges: add the level as it is now,
                # so the decoder cannot stay on a stale level
                log.warning("button: %d edge events lost (bounce storm?)", ev.line_seqno - self._last_seqno - 1)
                out.append((time.monotonic(), self.read_level()))
            self._last_seqno = ev.line_seqno
            out.append((ev.timestamp_ns / 1e9, ev.event_type == rising))
        out.sort(key=lambda e: e[0])
        return out

    def set_led(self, on: bool) -> None:
        self._req.set_value(self.led_line, self._active if on else self._inactive)

    def close(self) -> None:
        self._req.release()


class ButtonLed:
    """The button and LED status sink: opened once by the runtime when button.enabled.

    on_press: called from the button thread with each recognised Press; it must only enqueue.
    view: returns the LedView now (built from the runtime's Health snapshot; called every turn).
    open_lines: returns the LineAdapter; default: ``GpiodLines`` on the configured chip and lines.
    ``start`` opens the lines in the caller's thread, so a missing library or chip fails there
    (AgmaError, one line), then starts the thread. ``error`` is set if the loop ended on an
    exception (the lines failing); the heartbeat then stops, which the supervisor reports.
    """

    name = "button-led"

    def __init__(self, chip: str, button_line: int, led_line: int, active_low: bool,
                 on_press: Callable[[Press], None], view: Callable[[], LedView], timing: ButtonTiming,
                 *, led_active_low: bool = False, open_lines: Callable[[], LineAdapter] | None = None) -> None:
        self.chip, self.button_line, self.led_line = chip, button_line, led_line
        self.active_low, self.led_active_low = active_low, led_active_low
        self.on_press, self.view, self.timing = on_press, view, timing
        self._open_lines = open_lines or (lambda: GpiodLines(chip, button_line, led_line, active_low, led_active_low))
        self.heartbeat = time.monotonic()
        self.error: str | None = None
        self.presses = 0
        self._lines: LineAdapter | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name)

    @classmethod
    def from_config(cls, cfg, on_press: Callable[[Press], None], view: Callable[[], LedView],
                    open_lines: Callable[[], LineAdapter] | None = None) -> ButtonLed:
        """The sink the `button.*` keys describe."""
        timing = ButtonTiming(debounce_s=cfg["button.debounce_ms"] / 1000.0, long_press_s=cfg["button.long_press_s"])
        return cls(cfg["button.chip"], cfg["button.line"], cfg["button.led_line"], cfg["button.active_low"],
                   on_press, view, timing, led_active_low=cfg["button.led_active_low"], open_lines=open_lines)

    def start(self) -> None:
        self._lines = self._open_lines()
        self.heartbeat = time.monotonic()
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        """Ask the loop to end (the LED goes off, the lines are released) and join it for up to timeout_s."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.error("%s: thread still running %.1f s after stop (a GPIO call blocked)", self.name, timeout_s)

    def threads(self) -> list[threading.Thread]:
        return [self._thread] if self._thread.ident is not None else []

    def _run(self) -> None:
        lines = self._lines
        assert lines is not None
        try:
            initial = lines.read_level()
            if initial:
                log.warning("button: held when the box started (or button.active_low is wrong): "
                            "nothing counts until it is released")
            decoder = ButtonDecoder(self.timing, initial_pressed=initial)
            led_on: bool | None = None
            while not self._stop.is_set():
                presses: list[Press] = []
                for t_s, pressed in lines.read_edges(POLL_S):
                    presses += decoder.edge(t_s, pressed)
                now = time.monotonic()
                presses += decoder.tick(now)
                for press in presses:
                    self.presses += 1
                    log.info("button: %s press", press.kind)
                    self.on_press(press)
                on = led_is_on(led_pattern(self.view(), now), now)
                if on != led_on:
                    lines.set_led(on)
                    led_on = on
                self.heartbeat = time.monotonic()
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("%s: the loop ended: %s", self.name, self.error)
        finally:
            try:
                lines.set_led(False)
            except Exception as exc:
                log.warning("%s: could not turn the LED off: %s", self.name, exc)
            try:
                lines.close()
            except Exception as exc:
                log.warning("%s: could not release the GPIO lines: %s", self.name, exc)


# -- on the box, by hand: `python -m appliance.status.gpio` ----------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Open the configured lines (whatever button.enabled says), print each press and what it would
    mean while idle and while recording, and answer on the LED (a short press flickers, a long one
    blinks twice): the wiring check of docs/controls.md. Ends after --seconds or on Ctrl-C."""
    import argparse
    import sys

    from .. import config as config_mod
    from .button import press_intent

    ap = argparse.ArgumentParser(prog="python -m appliance.status.gpio", description=main.__doc__)
    ap.add_argument("--config", help="configuration file (the [button] keys)")
    ap.add_argument("--chip", help="override button.chip")
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to listen (default 60)")
    args = ap.parse_args(argv)
    try:
        cfg = config_mod.load(args.config, overrides={"button.chip": (args.chip, "command line --chip")})
        feedback: dict[str, float] = {}

        def on_press(p: Press) -> None:
            a, b = press_intent(p, "idle", True), press_intent(p, "recording", False)
            print(f"{p.kind} press at {p.t_s:.3f} s: idle -> {a}, recording -> {b}", flush=True)
            feedback["refused_at_s" if p.kind == "long" else "acked_at_s"] = p.t_s

        def view() -> LedView:  # off; a short press flickers (ack), a long one blinks twice
            return LedView(True, "idle", "ok", refused_at_s=feedback.get("refused_at_s"),
                           acked_at_s=feedback.get("acked_at_s"))

        sink = ButtonLed.from_config(cfg, on_press, view)
        sink.start()
    except AgmaError as exc:
        print(f"agma: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"listening on {cfg['button.chip']} line {cfg['button.line']} (LED: line {cfg['button.led_line']}) "
          f"for {args.seconds:g} s; press the button", flush=True)
    try:
        sink.threads()[0].join(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        sink.stop()
    if sink.error:
        print(f"agma: button-led: {sink.error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
