"""`agma start`, `agma stop`, `agma status`: clients of a running daemon, over its control socket.

Each sends one JSON request and prints the answer; with --json the answer is the last line of
stdout. Exit codes: start/stop 0 when done, 1 when refused (one line saying why) or when no daemon
runs; status 0 when the daemon answers and its health is not ``error``, else 1 (a container
health check and a monitoring script rely on it).
"""
from __future__ import annotations

import sys

from .. import config as config_mod
from ..output import emit_json

FLAG_KEYS = {"db": "store.db", "socket": "daemon.socket"}


def register(sub, common) -> None:
    for name, help_text in (("start", "start a session on the running daemon"),
                            ("stop", "stop the running daemon's session"),
                            ("status", "the running daemon's state and health (exit 1 on error or no daemon)")):
        p = sub.add_parser(name, parents=[common], help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        if name == "start":
            p.add_argument("--bed", metavar="LABEL", help="bed label of this session (a place, never a patient identifier)")
        p.add_argument("--db", metavar="PATH", help="the daemon's database (store.db): its socket is beside it")
        p.add_argument("--socket", metavar="PATH", help="the daemon's control socket (daemon.socket)")
        p.add_argument("--timeout", type=float, default=15.0, metavar="S", help="seconds to wait for the answer")
        p.set_defaults(handler=run)


def run(args) -> int:
    from ..runtime.factories import socket_path
    from ..status.control_socket import request

    cfg = config_mod.load(args.config, {key: (getattr(args, dest, None), f"command line --{dest}")
                                        for dest, key in FLAG_KEYS.items()})
    body = {"action": args.command}
    if args.command == "start" and args.bed is not None:
        body["bed_label"] = args.bed
    answer = request(socket_path(cfg), body, timeout_s=args.timeout)
    if args.json:
        emit_json(answer)
    ok = bool(answer.get("ok"))
    if args.command == "status":
        if not args.json:
            print(format_status(answer))
        if not ok:
            print(f"agma status: {answer.get('error', 'no answer')}", file=sys.stderr)
            return 1
        return 1 if answer.get("health") == "error" else 0
    if not ok:
        print(f"agma {args.command}: {answer.get('error', 'refused')}", file=sys.stderr)
        return 1
    if not args.json:
        print(f"{'recording' if args.command == 'start' else 'stopped'} {answer.get('session_id')}")
    return 0


def format_status(a: dict) -> str:
    if not a.get("ok"):
        return f"error  {a.get('error')}"
    session = a.get("session_id") or "-"
    lines = [
        f"state      {a['state']}" + (f"  session {session}" if a.get("session_id") else ""),
        f"health     {a['health']}" + (f"  ({a['error']})" if a.get("error") else ""),
    ]
    if a.get("session_id"):
        lines.append(f"recording  {a['frames']} frames, {a['fps']:.1f} fps, {a['dropped_frames']} dropped, "
                     f"{a['elapsed_s']:.0f} s" + (f", bed {a['bed_label']}" if a.get("bed_label") else ""))
    free, days = a.get("disk_free_mb"), a.get("days_left")
    lines += [f"camera     {a['camera']}", f"engine     {a['engine']}",
              f"store      {a['store']}" + (f", {free:.0f} MB free" if free is not None else "")
              + (f", {days:.0f} days left at this rate" if days is not None else "")]
    return "\n".join(lines)
