"""`agma record`: run one session from the configured source to the database and print a summary."""
from __future__ import annotations

import os
import signal
import sys

from .. import config as config_mod
from ..errors import UsageError
from ..output import emit_json

FLAG_KEYS = {  # flag dest -> config key path
    "source": "capture.source",
    "replay": "capture.replay_dir",
    "db": "store.db",
    "seed": "sim.seed",
    "sim_noise_px": "sim.noise_px",
    "model": "pose.model",
    "decoder": "pose.decoder",
    "box_id": "box.id",
    "bed_label": "box.bed_label",
}


def register(sub, common) -> None:
    p = sub.add_parser("record", parents=[common], help="record one session and print its summary",
                       description="Record one session: capture, pose, triangulate, store; then print a summary.")
    p.add_argument("--source", help="synthetic (default), uvc, zed, replay")
    p.add_argument("--replay", metavar="DIR", help="folder to replay (capture.replay_dir; implies --source replay)")
    p.add_argument("--write-replay", metavar="DIR",
                   help="also write the frames (images, calibration, ground truth) to a new replay folder; "
                        "the only way images reach the disk")
    p.add_argument("--duration", type=float, metavar="S", help="seconds of recording at the source's rate (exactly fps*S frames)")
    p.add_argument("--as-fast-as-possible", action="store_true",
                   help="offline: every stage waits for the next instead of dropping frames")
    p.add_argument("--db", metavar="PATH", help="SQLite database (store.db)")
    p.add_argument("--seed", type=int, help="seed of the synthetic scene and simulated noise (sim.seed)")
    p.add_argument("--sim-noise-px", type=float, metavar="PX", help="simulated model's 2D noise, px per axis (sim.noise_px)")
    p.add_argument("--model", help="simulated, onnx:PATH or tensorrt:PATH / trt:PATH (pose.model; TensorRT: on the box only)")
    p.add_argument("--decoder", help="dark or standard (pose.decoder)")
    p.add_argument("--box-id", help="box name (box.id)")
    p.add_argument("--bed-label", help="bed label (box.bed_label)")
    p.set_defaults(handler=run)


def load_config(args):
    overrides = {key: (getattr(args, dest), f"command line --{dest.replace('_', '-')}")
                 for dest, key in FLAG_KEYS.items()}
    return config_mod.load(args.config, overrides)


class _ProgressLine:
    def __init__(self, total: int | None) -> None:
        self.total, self.tty = total, sys.stderr.isatty()

    def __call__(self, h) -> None:
        """h: the runtime's Health snapshot (runtime/health.py), once a second."""
        if h.session_id is None:
            return
        total = f"/{self.total}" if self.total else ""
        line = (f"recording: {h.frames}{total} frames stored, {h.dropped_frames} dropped, "
                f"{h.frames / h.elapsed_s if h.elapsed_s else 0:.1f} fps, {h.elapsed_s:.0f} s")
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        sys.stderr.flush()

    def finish(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def run(args) -> int:
    from ..runtime import machine as m
    from ..runtime.record import record_session

    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be a positive number of seconds, got {args.duration}")
    if args.replay and not args.source:
        args.source = "replay"
    cfg = load_config(args)
    cfg.require_db_folder()
    kind, _, model_path = cfg["pose.model"].partition(":")
    if kind in ("tensorrt", "trt"):  # refuse in one line before the runtime starts (no engine, no TensorRT)
        from ..pose.engines.tensorrt_engine import preflight

        preflight(model_path)
    progress = None if args.json else _ProgressLine(None if args.duration is None else int(round(cfg["capture.fps"] * args.duration)))
    old: dict = {}

    def on_box(box) -> None:  # signal handlers only enqueue: Ctrl-C ends the session as stopped, SIGTERM as shutdown
        for sig, reason in ((signal.SIGINT, "stopped"), (signal.SIGTERM, "shutdown")):
            old[sig] = signal.signal(sig, lambda s, f, r=reason: box.post(m.Shutdown("signal", r)))

    try:
        summary = record_session(cfg, args.duration, args.as_fast_as_possible, args.write_replay,
                                 on_progress=progress, on_box=on_box)
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if progress:
            progress.finish()
    stuck = summary.pop("stuck_threads")
    if args.json:
        emit_json(summary)
    else:
        print(format_summary(summary, model=cfg["pose.model"], source=cfg["capture.source"], fps_nominal=cfg["capture.fps"]))
    if summary["end_reason"] in ("error", "disk_full"):
        print(f"agma record: session {summary['session_id']} ended early ({summary['end_reason']}): {summary['error']}; "
              f"{summary['frames']} committed frames are kept in {summary['db']}", file=sys.stderr)
        code = 1
    else:
        code = 0
    if stuck:  # a device call that never returned: the session is closed, end the process anyway
        print(f"agma record: threads stuck in a device call at exit ({', '.join(stuck)}); ending the process",
              file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


#: Soualmi et al. 2023, retrained DarkPose32 on 18,000 real stereo test pairs (Tables 3-5): the figures
#: the simulated model's error is tuned to (docs/simulation.md), printed beside the session's.
PAPER = {"mean_mm": 17.2, "std_mm": 23.1, "pck_10mm": 40.5, "pck_25mm": 83.1, "pck_50mm": 97.3, "pck_100mm": 99.5,
         "pck2d_05": 68.1, "pck2d_10": 91.4, "pck2d_20": 98.3}

#: sessions.end_reason in plain words (the summary's "ended" line).
END_REASON_WORDS = {
    "duration": "reached its set length",
    "stopped": "stopped by hand (Ctrl-C)",
    "shutdown": "stopped because the system asked (SIGTERM)",
    "error": "stopped early by an error",
    "disk_full": "stopped early: the disk is nearly full",
    "interrupted": "cut off by a crash, kill or power cut",
}


def _span(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, sec = divmod(rem, 60)
    return f"{h} h {m} min" if h else f"{m} min {sec} s" if m else f"{sec} s"


def _audience_lines(s: dict, model: str, source: str, fps_nominal: float) -> list[str]:
    """One plain line each for a nurse, an IT technician and a researcher, before any figure."""
    recorded = _span(s["frames"] / fps_nominal)
    demo = " (a simulated infant: a demo, no camera)" if source == "synthetic" else ""
    if s["end_reason"] in ("error", "disk_full"):
        nurse = f"the recording stopped early; the {recorded} before that are saved{demo}. Tell IT."
    else:
        nurse = (f"the recording {END_REASON_WORDS.get(s['end_reason'], s['end_reason'])}; all {recorded} are saved{demo}, "
                 "as joint positions only, never images. Nothing else to do.")
    kept_up = "the box kept up with the camera" if s["dropped_frames"] == 0 else "the box fell behind the camera at times"
    dump = f"a copy for researchers waits in {s['dump']}" if s["dump"] else "no dump was written (store.dump_dir)"
    it = f"{s['frames']} frames saved in {s['db']}, {s['dropped_frames']} dropped ({kept_up}); {dump}."
    if s.get("accuracy") is None:
        research = "no ground truth for this source, so no accuracy figures; the 3D trajectories are in the joints view."
    elif model == "simulated":
        research = ("the pose model is SIMULATED (the true joints plus an error tuned to the paper's network), so the "
                    "accuracy below checks the box's triangulation and storage, not a network: figures near the "
                    "paper's are the aim, not a better result.")
    else:
        research = (f"the accuracy below compares {model}'s joints with the true joints of the simulated infant "
                    "(a drawing, not a real infant: expect a real network to do worse here than on real images).")
    return [f"For the nurse:      {nurse}", f"For IT:             {it}", f"For the researcher: {research}"]


def format_summary(s: dict, *, model: str, source: str, fps_nominal: float) -> str:
    """The text summary: three plain lines (nurse, IT, researcher), then the figures, each explained."""
    reason = s["end_reason"]
    lines = _audience_lines(s, model, source, fps_nominal) + [
        "",
        f"session        {s['session_id']}",
        f"ended          {reason}: {END_REASON_WORDS.get(reason, reason)}" + (f" ({s['error']})" if s.get("error") else ""),
        f"frames         {s['frames']} stored, {s['dropped_frames']} dropped, {s['fps']:.1f} fps achieved",
        "               (dropped: frames the camera delivered while the box was still busy with earlier ones)",
        f"valid joints   {100 * s['valid_joint_ratio']:.1f} % have a 3D position (the rest are stored empty, with the reason)",
        f"database       {s['db']}",
        f"dump           {s['dump'] or '(none)'}",
    ]
    if s.get("continues_session"):
        lines.append(f"continues      {s['continues_session']} (resumed after it was interrupted)")
    a = s.get("accuracy")
    if a:
        p = PAPER
        whose = "the simulated model" if model == "simulated" else model
        lines += [
            "",
            f"accuracy of {whose} against the true joints (paper: its network on 18,000 real stereo test pairs)",
            f"  3D mean error   {a['mean_mm']:.1f} mm, STD {a['std_mm']:.1f} mm"
            f"   paper {p['mean_mm']} mm, STD {p['std_mm']} mm",
            f"                  distance from each 3D joint to the true one, over the valid joints ({100 * a['valid_ratio']:.1f} %)",
            f"  3DPCK           @1cm {a['pck_10mm']:.1f}  @2.5cm {a['pck_25mm']:.1f}  @5cm {a['pck_50mm']:.1f}  "
            f"@10cm {a['pck_100mm']:.1f} %   paper {p['pck_10mm']} / {p['pck_25mm']} / {p['pck_50mm']} / {p['pck_100mm']}",
            "                  % of all joints within 1, 2.5, 5 and 10 cm of the true one in 3D (a joint without a position is a miss)",
            f"  2D PCK (torso)  @0.05 {a['pck2d_05']:.1f}  @0.1 {a['pck2d_10']:.1f}  @0.2 {a['pck2d_20']:.1f} %"
            f"   paper {p['pck2d_05']} / {p['pck2d_10']} / {p['pck2d_20']}",
            "                  % of joints found in each image within 0.05, 0.1 and 0.2 torso heights (right shoulder to "
            "right hip) of the true position",
            f"  2D mean error   {a['mean_2d_px']:.2f} px over valid joints, both views",
            "  per joint group  " + "".join(f"{g:>10}" for g in a["per_group"]),
        ]
        for key, label, fmt in (("mean_mm", "mean (mm)", "{:10.1f}"), ("std_mm", "STD (mm)", "{:10.1f}"),
                                ("pck_10mm", "3DPCK@1cm", "{:10.1f}"), ("pck_25mm", "3DPCK@2.5cm", "{:10.1f}"),
                                ("pck_50mm", "3DPCK@5cm", "{:10.1f}"), ("pck_100mm", "3DPCK@10cm", "{:10.1f}")):
            lines.append(f"  {label:<16}" + "".join(fmt.format(v[key]) if v[key] == v[key] else f"{'-':>10}"
                                                   for v in a["per_group"].values()))
    return "\n".join(lines)
