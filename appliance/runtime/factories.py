"""What the runtime is built from, by config: the source opener, the pose builder, the status sinks.

These are the seams of runtime/box.py: the capture child process (#11) replaces ``source_opener``,
TensorRT (#12) arrives through ``pose_builder`` (pose/stage.py ``build``), MQTT (#13) and
systemd notify (#14, ``systemd_sink``) are appended by ``daemon_sinks``.
"""
from __future__ import annotations

from pathlib import Path


def socket_path(cfg) -> Path:
    """daemon.socket, else agma.sock beside the database."""
    value = cfg["daemon.socket"]
    return Path(value).expanduser() if value else cfg.db_path.parent / "agma.sock"


def source_opener(cfg, live: bool, duration_s: float | None = None, write_replay: str | None = None,
                  in_process: bool = False):
    """-> a callable opening the configured FrameSource: in a capture process (capture.process, the
    daemon's default: runtime/camera_process.py), else in-process (capture/__init__.py ``open_source``;
    ``in_process``: `agma record`, whose one session is the source's whole life).

    The runtime bounds each session itself (its frame budget), so the source is only bounded when
    a replay is being written: the replay folder is finished when the source ends.
    """
    if cfg["capture.process"] and not write_replay and not in_process:
        import time

        from .camera_process import ProcessSource

        t_origin_ns = time.time_ns()  # the camera's and the faults' clock: kept across capture-process restarts
        fired: set[str] = set()  # the hang/crash faults that have acted, across restarts
        return lambda: ProcessSource(cfg, live, t_origin_ns, fired)
    from ..capture import open_source

    bound = duration_s if write_replay else None
    return lambda: open_source(cfg, bound, not live, write_replay=write_replay)


def pose_builder(cfg):
    """-> a callable building the pose stage for a source (called inside the inference thread).
    sim.faults' ``engine_hang`` reaches the simulated model here (the pose layer knows no faults)."""
    from ..capture.faults import engine_hang_start_s
    from ..pose.stage import build

    hang_at_s = engine_hang_start_s(cfg["sim.faults"])
    if hang_at_s is not None and cfg["pose.model"] != "simulated":
        import logging

        logging.getLogger(__name__).warning("sim.faults: engine_hang acts on the simulated model only; "
                                            "pose.model is %s", cfg["pose.model"])
    return lambda source_info: build(cfg, source_info, hang_at_s=hang_at_s)


def daemon_sinks(cfg):
    """-> a callable giving the daemon's status sinks for a Box: the control socket, the button and
    LED, MQTT, systemd's notify protocol (last)."""
    def make(box) -> list:
        from ..status.control_socket import ControlServer

        sinks = [ControlServer(socket_path(cfg), box.answer, mode=0o660, group=cfg["daemon.socket_group"])]
        if cfg["button.enabled"]:
            sinks.append(button_sink(cfg, box))
        if cfg["mqtt.enabled"]:
            sinks.append(mqtt_sink(cfg, box))
        notifier = systemd_sink(cfg, box)
        if notifier is not None:  # last: READY=1 once every other sink is up
            sinks.append(notifier)
        return sinks
    return make


def systemd_sink(cfg, box, environ=None):
    """systemd's notify protocol (status/systemd_notify.py) when $NOTIFY_SOCKET is set, else None:
    READY, the watchdog, STATUS= from the box's Health. The watchdog follows the supervisor's own
    judgement (Health.stalled); the one stage that cannot judge itself, the control loop that
    rebuilds the snapshot, counts as stalled once its snapshot is older than supervisor.stall_after_s."""
    import os
    import time

    from ..status.systemd_notify import NotifyView, SystemdNotifier, notify_socket, watchdog_interval_s
    from .health import judge_stalls

    environ = os.environ if environ is None else environ
    address = notify_socket(environ)
    if address is None:
        return None
    stall_after_s = cfg["supervisor.stall_after_s"]
    seen = {"health": None, "since": time.monotonic()}

    def view() -> NotifyView:
        h, now = box.health(), time.monotonic()
        if h is not seen["health"]:
            seen["health"], seen["since"] = h, now
        stalled, error = h.stalled, h.error
        loop = judge_stalls({"control-loop": now - seen["since"]}, stall_after_s)
        if loop:  # the snapshot's own "stalled: ..." part, then, names one stage too few
            own = f"stalled: {', '.join(stalled)}" if stalled else None
            rest = error[len(own):].lstrip("; ") if own and error and error.startswith(own) else error
            stalled = tuple(sorted(stalled + loop))
            error = "; ".join(filter(None, [f"stalled: {', '.join(stalled)}", rest]))
        return NotifyView(state=h.state, health="error" if loop else h.health, error=error, session_id=h.session_id,
                          fps=h.fps, camera=h.camera, stalled=stalled)

    return SystemdNotifier(address, view, watchdog_interval_s(environ, os.getpid()))


def mqtt_sink(cfg, box):
    """MQTT (status/mqtt_sink.py): the box's Health as status and stats, the outbox's events, commands
    through Box.answer; delivered events leave the outbox through the store writer."""
    from .. import __version__
    from ..status.mqtt_sink import BoxView, EventStore, MqttSettings, MqttSink
    from ..store.outbox import OutboxReader, mark_delivered
    from ..store.writer import StoreWriterError
    from .health import status_document

    def view() -> BoxView:
        h = box.health()
        return BoxView(status_document(h), h.session_started_ns, h.valid_joint_ratio, h.latency_ms, h.ring_overruns,
                       h.ring_dropped)

    def delivered(ids: list[int]) -> None:
        writer = box.writer
        if writer is None:
            raise StoreWriterError("the database is not open")
        writer.call(lambda conn: mark_delivered(conn, ids), timeout_s=10.0)

    return MqttSink(MqttSettings.from_config(cfg, __version__), view, box.answer,
                    EventStore(lambda: OutboxReader(box.db_path), delivered))


def button_sink(cfg, box):
    """The button and LED (status/gpio.py): a press becomes a start, a stop or an acknowledgement."""
    from ..status.gpio import ButtonLed

    return ButtonLed.from_config(cfg, box.press, box.led_view)
