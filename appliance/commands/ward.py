"""`agma ward`: the monitoring desk's live view of every box on the MQTT broker (docs/mqtt.md).

From the retained availability and status of every box under ``ward.prefix``: a live terminal
table (``rich``, redrawn every second; offline boxes in red, stale ones in yellow, unreadable
messages in magenta) until Ctrl-C, which ends it with exit 0; ``--json`` prints one snapshot, a
list of row objects (status/ward.py ``Row``), and exits 0. The broker and the monitor's
credentials come from the ``ward.*`` keys, each flag overriding its key. A broker that cannot be
reached, refuses the desk or does not answer: one line, exit 69.
"""
from __future__ import annotations

import re
import signal
import time

from .. import config as config_mod
from ..errors import UsageError
from ..output import emit_json

#: flag dest -> config key (besides --broker, which sets ward.host and ward.port).
FLAG_KEYS = {"username": "ward.username", "password_file": "ward.password_file", "tls_ca": "ward.tls_ca",
             "tls_cert": "ward.tls_cert", "tls_key": "ward.tls_key"}
#: Seconds between redraws of the live table.
REFRESH_S = 1.0
#: Longest text shown in a cell (the JSON keeps the whole value).
CELL_CHARS = 24
#: Longest text of the last column (a problem, the box's error or its last event).
NOTE_CHARS = 72


def register(sub, common) -> None:
    p = sub.add_parser("ward", parents=[common],
                       help="the monitoring desk's live view of every box on the MQTT broker (--json: one snapshot)")
    p.add_argument("--broker", metavar="HOST:PORT", help="the broker (default: ward.host and ward.port; "
                                                           "HOST alone keeps ward.port; [v6 address]:PORT)")
    p.add_argument("--username", metavar="U", help="the monitor account at the broker (ward.username)")
    p.add_argument("--password-file", metavar="F", help="file whose first line is the password (ward.password_file)")
    p.add_argument("--tls-ca", metavar="F", help="CA certificate of the broker; set: TLS (ward.tls_ca)")
    p.add_argument("--tls-cert", metavar="F", help="client certificate, when the broker wants one (ward.tls_cert)")
    p.add_argument("--tls-key", metavar="F", help="private key of --tls-cert (ward.tls_key)")
    p.set_defaults(handler=run)


def parse_broker(text: str) -> tuple[str, int | None]:
    """'host:port', 'host', '[v6]:port' or '[v6]' -> (host, port or None); UsageError otherwise."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?|([^:\[\]\s]+)(?::(\d+))?", text.strip())
    if not m:
        raise UsageError(f"--broker {text!r}: expected HOST:PORT")
    host = m.group(1) or m.group(3)
    port = m.group(2) or m.group(4)
    if port is not None and not 1 <= int(port) <= 65535:
        raise UsageError(f"--broker {text!r}: port {port} is not in 1..65535")
    return host, int(port) if port is not None else None


def run(args) -> int:
    from ..status.mqtt import Security
    from ..status.ward import Ward

    overrides = {key: (getattr(args, dest), f"command line --{dest.replace('_', '-')}") for dest, key in FLAG_KEYS.items()}
    if args.broker is not None:
        host, port = parse_broker(args.broker)
        overrides["ward.host"] = (host, "command line --broker")
        overrides["ward.port"] = (port, "command line --broker")
    cfg = config_mod.load(args.config, overrides)
    ward = Ward(cfg["ward.host"], cfg["ward.port"], cfg["ward.prefix"], Security.from_config(cfg, "ward"))
    try:
        ward.start()
        if args.json:
            emit_json(ward.snapshot())
            return 0
        return live(ward)
    finally:
        ward.stop()


def live(ward) -> int:
    """The live table until Ctrl-C (exit 0); the first connection must succeed (else WardError, exit 69)."""
    from rich.console import Console
    from rich.live import Live

    console = Console()
    # Ctrl-C ends the table even when agma was started with SIGINT ignored (from a script's
    # background job, which POSIX shells start so): Python then installs no handler of its own
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        ward.wait_connected()
        with Live(render(ward), console=console, auto_refresh=False, transient=False) as screen:
            while True:
                ward.pump(REFRESH_S)
                screen.update(render(ward), refresh=True)
    except KeyboardInterrupt:
        return 0


def _cell(value, limit: int = CELL_CHARS) -> str:
    """A value for a cell: '-' when missing, control characters out, at most ``limit`` characters."""
    if value is None:
        return "-"
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _duration(seconds) -> str | None:
    if seconds is None:
        return None
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _disk(mb) -> str | None:
    if mb is None:
        return None
    return f"{mb / 1024:.1f} GB" if mb >= 1024 else f"{mb:.0f} MB"


def render(ward, now_mono: float | None = None):
    """The table of the ward's rows (a rich Table; every cell plain text, never rich markup)."""
    from rich.table import Table
    from rich.text import Text

    rows = ward.view.rows(time.monotonic() if now_mono is None else now_mono)
    online = sum(1 for r in rows if r.availability == "online")
    link = "connected" if ward.connected else f"not connected: {ward.last_error or 'connecting'}; retrying"
    table = Table(title=f"agma ward  {ward.host}:{ward.port}  {ward.prefix}/+  —  {len(rows)} boxes, {online} online",
                  caption=f"{link}  ·  offline red, stale (no status for 3 heartbeats) yellow  ·  Ctrl-C ends",
                  title_justify="left", caption_justify="left")
    for name, justify in (("box", "left"), ("bed", "left"), ("state", "left"), ("session", "left"),
                          ("elapsed", "right"), ("fps", "right"), ("drops", "right"), ("camera", "left"),
                          ("disk", "right"), ("age", "right"), ("availability", "left"), ("note", "left")):
        table.add_column(name, justify=justify, no_wrap=True)
    for r in rows:
        note = r.problem or r.error or r.last_event
        style = ("bold white on red" if r.offline else "black on yellow" if r.stale
                 else "magenta" if r.problem else "red" if r.health == "error" else "")
        cells = (r.box, r.bed, r.state, r.session, _duration(r.elapsed_s), None if r.fps is None else f"{r.fps:.1f}",
                 r.drops, r.camera, _disk(r.disk_free_mb), None if r.age_s is None else f"{r.age_s:.0f} s",
                 r.availability or "?", note)
        table.add_row(*(Text(_cell(c, NOTE_CHARS if i == len(cells) - 1 else CELL_CHARS)) for i, c in enumerate(cells)),
                      style=style or None)
    return table
