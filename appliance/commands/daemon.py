"""`agma daemon`: the box's long-lived runtime in the foreground, until SIGTERM or SIGINT.

Opens the store (lock, migrations, crash recovery), the frame source and the pose engine once;
sessions are started and stopped over the control socket (`agma start|stop|status`) and the
button. SIGTERM ends an open session as ``shutdown`` with every captured frame committed, then
exits 0; SIGINT (Ctrl-C at a terminal) ends it as ``stopped``. A recording interrupted less than
``store.resume_after_crash_s`` ago is continued at start as a new session pointing to it.
Under systemd ($NOTIFY_SOCKET set) it speaks the notify protocol — READY, the watchdog, STATUS=,
STOPPING (status/systemd_notify.py) — and logs to the journal when $JOURNAL_STREAM says the
journal reads its output; $STATE_DIRECTORY is the default home of the database (config.py).
"""
from __future__ import annotations

import logging
import os
import signal
import sys

from .. import config as config_mod

log = logging.getLogger(__name__)

FLAG_KEYS = {"db": "store.db", "source": "capture.source", "model": "pose.model", "socket": "daemon.socket"}


def register(sub, common) -> None:
    p = sub.add_parser("daemon", parents=[common], help="run the box: sessions started and stopped by agma start/stop, the button",
                       description="Run the box's runtime in the foreground until SIGTERM (session ends as shutdown) "
                                   "or SIGINT (stopped). Logs go to stderr (to the journal under systemd); -v for more.")
    p.add_argument("--db", metavar="PATH", help="SQLite database (store.db)")
    p.add_argument("--source", help="frame source (capture.source)")
    p.add_argument("--model", help="pose model (pose.model)")
    p.add_argument("--socket", metavar="PATH", help="control socket (daemon.socket)")
    p.set_defaults(handler=run)


def load_config(args):
    overrides = {key: (getattr(args, dest, None), f"command line --{dest}") for dest, key in FLAG_KEYS.items()}
    return config_mod.load(args.config, overrides)


def run(args) -> int:
    from ..runtime.box import Box, BoxOptions
    from ..runtime.factories import daemon_sinks, pose_builder, source_opener
    from ..runtime import machine as m
    from ..status.systemd_notify import log_to_journal

    log_to_journal()  # under systemd with the journal on stdout/stderr: the journal's priorities
    cfg = load_config(args)
    cfg.require_db_folder()
    box = Box(cfg, BoxOptions(live=True, resume=True, wait_for_camera=True), source_opener(cfg, live=True), pose_builder(cfg),
              sinks=daemon_sinks(cfg))
    handlers = {signal.SIGTERM: m.Shutdown("signal", "shutdown"), signal.SIGINT: m.Shutdown("signal", "stopped")}

    def on_signal(event) -> None:
        box.post(event)
        for sink in box.sinks:  # systemd's STOPPING=1 at once, before the session is closed
            stopping = getattr(sink, "stopping", None)
            if stopping is not None:
                stopping()

    old = {sig: signal.signal(sig, lambda s, f, e=event: on_signal(e)) for sig, event in handlers.items()}
    try:
        box.open()
        log.warning("agma daemon: running (database %s, control socket %s)", cfg.db_path, control_socket_path(cfg))
        box.run()
    finally:
        stuck = box.close() if box.writer is not None or box.capture.threads() else []
        for sig, h in old.items():
            signal.signal(sig, h)
    if stuck:
        code = 0 if all(o.end_reason in ("shutdown", "stopped") for o in box.outcomes) else 1
        print(f"agma daemon: threads stuck in a device call at exit ({', '.join(stuck)}); ending the process",
              file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(code)
    return 0


def control_socket_path(cfg):
    from ..runtime.factories import socket_path

    return socket_path(cfg)
