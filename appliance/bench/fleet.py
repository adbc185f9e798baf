"""`agma bench fleet [--boxes N] [--seconds S]`: a ward of N boxes on one broker, as the desk sees it.

One local Mosquitto started here (a free loopback port, anonymous, no persistence; ``user root`` in
its configuration when run as root, so Mosquitto 2 does not drop to a user that cannot read it;
killed on every way out), N status sinks — the box's real ``MqttSink`` (status/mqtt_sink.py), each
with its own connection, fed a simulated box that records at 30 fps (frames counting up) — and one
``Ward`` (status/ward.py) subscribed to every box, as `agma ward` is. The sinks publish their status
every ``HEARTBEAT_S`` (faster than the box's default 10 s, to have samples) and their stats every
``STATS_S``. At the end `agma ward --json` runs once as its own process against the same broker.

Rows (figures only, no bound asserted):

- ``fleet_seen``: boxes the live ward saw online with a status, boxes in the `agma ward --json`
  snapshot, and the seconds from the first sink's start until the ward had seen all;
- ``status_latency``: a status's arrival at the ward minus its ``updated_at`` (the sink's clock;
  one machine, one clock; updated_at has ms resolution), p50 (``median_us``), p99 and max, over
  every status after the first of each box (the first may be a retained copy);
- ``broker_cpu``: Mosquitto's CPU time (utime + stime of /proc/<pid>/stat) over the run, in percent
  of one core, with the messages the ward received per second.

The sinks and the ward share this one Python process (and its GIL): the latency measured includes
that process's own load, which grows with N; the broker's CPU is the broker's alone.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from .. import bench
from ..errors import AgmaError, UsageError

#: The simulated boxes' status heartbeat and stats period, seconds.
HEARTBEAT_S = 1.0
STATS_S = 5.0
PREFIX = "agma"
#: Defaults of --boxes and --seconds.
DEFAULT_BOXES = 50
DEFAULT_SECONDS = 20.0
_CLK_TCK = os.sysconf("SC_CLK_TCK")


class BenchError(AgmaError):
    """The bench cannot run here (no Mosquitto, a broker that does not start): one line, exit 1."""


def mosquitto_binary() -> str | None:
    """The Mosquitto broker: on PATH, else Debian's /usr/sbin/mosquitto; None when not installed."""
    found = shutil.which("mosquitto")
    if found:
        return found
    return "/usr/sbin/mosquitto" if os.access("/usr/sbin/mosquitto", os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process has used, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def _die_with_parent() -> None:
    """In the broker's process before exec: SIGKILL it when the bench's process dies (Linux prctl)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class LocalBroker:
    """A Mosquitto of our own on a free loopback port (``with``: started and listening, then killed;
    it dies with this process too)."""

    def __init__(self) -> None:
        exe = mosquitto_binary()
        if exe is None:
            raise BenchError("bench fleet needs Mosquitto: apt-get install mosquitto (Debian/Ubuntu)")
        self.exe = exe
        self.dir = Path(tempfile.mkdtemp(prefix="agma-bench-fleet-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.dir / "mosquitto.log"

    def __enter__(self) -> "LocalBroker":
        conf = self.dir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false",
                 "max_queued_messages 10000", "log_dest stderr", "log_type error", "log_type warning"]
        if os.geteuid() == 0:
            lines.append("user root")  # Mosquitto 2 started as root would drop to `mosquitto`
        conf.write_text("\n".join(lines) + "\n")
        try:
            with open(self.log, "wb") as log:
                # in this process's group (a kill of the group takes it too) and killed by the kernel
                # when this process dies, however it dies
                self.proc = subprocess.Popen([self.exe, "-c", str(conf)], stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=log, preexec_fn=_die_with_parent)
            end = time.monotonic() + 30.0
            while True:
                if self.proc.poll() is not None:
                    raise BenchError(f"mosquitto exited ({self.proc.returncode}): {self._log_tail()}")
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1.0).close()
                    break
                except OSError:
                    if time.monotonic() > end:
                        raise BenchError(f"mosquitto not listening on 127.0.0.1:{self.port} after 30 s") from None
                    time.sleep(0.05)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log.read_text(errors="replace").strip().splitlines()[-3:]) or "no output"
        except OSError:
            return "no output"

    def __exit__(self, *exc) -> None:
        try:
            if self.proc is not None:
                if self.proc.poll() is None:
                    self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class SimBox:
    """A box recording at 30 fps since it was made: the Health the runtime would hold, as a BoxView."""

    def __init__(self, index: int) -> None:
        self.box_id = f"box-{index:03d}"
        self.bed = f"bed {index}"
        self.session = f"{self.box_id}-{time.strftime('%Y%m%dT%H%M%S')}"
        self.t0_mono, self.t0_ns = time.monotonic(), time.time_ns()

    def view(self):
        from ..runtime.health import Health, status_document
        from ..status.mqtt_sink import BoxView

        elapsed = time.monotonic() - self.t0_mono
        frames = int(elapsed * 30.0)
        h = Health(state="recording", health="ok", error=None, session_id=self.session, bed_label=self.bed,
                   frames=frames, fps=30.0, dropped_frames=frames // 1000, elapsed_s=elapsed, camera="ok",
                   engine="ready", store="ok", disk_free_mb=50_000.0 - frames * 0.01, source_opens=1, engine_loads=1,
                   ready=True, queue_depths={"inference": 0, "writer": 1}, session_started_ns=self.t0_ns,
                   valid_joint_ratio=0.93, latency_ms={"inference": {"p50": 18.0, "p95": 21.0, "p99": 24.0}},
                   mqtt="connected")
        return BoxView(status_document(h), h.session_started_ns, h.valid_joint_ratio, h.latency_ms, h.ring_overruns,
                       h.ring_dropped)

    @staticmethod
    def answer(cmd) -> dict:
        return {"ok": False, "error": "bench fleet: a simulated box takes no commands"}


def _quantile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(p * (len(s) - 1)))))]


def _ward_json(port: int) -> list:
    """`agma ward --json` as its own process against the bench's broker -> its rows."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGMA_")}
    proc = subprocess.run([sys.executable, "-m", "appliance", "ward", "--json", "--broker", f"127.0.0.1:{port}"],
                          capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise BenchError(f"agma ward --json exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_fleet(boxes: int, seconds: float) -> list[dict]:
    from ..status.mqtt import Security
    from ..status.mqtt_sink import MqttSettings, MqttSink
    from ..status.payloads import from_iso
    from ..status.ward import Ward

    latencies_ms: list[float] = []
    first_seen: set[str] = set()
    lock = threading.Lock()

    def observe(box_id: str, name: str, payload: bytes, retained: bool, arrival_ns: int) -> None:
        if name != "status" or retained:
            return
        try:
            sent_ns = from_iso(json.loads(payload)["updated_at"])
        except (ValueError, KeyError, TypeError):
            return
        with lock:
            if box_id in first_seen:
                latencies_ms.append((arrival_ns - sent_ns) / 1e6)
            else:
                first_seen.add(box_id)

    def seen(rows) -> int:
        return sum(1 for r in rows if r.availability == "online" and r.state == "recording" and not r.stale)

    with LocalBroker() as broker:
        ward = Ward("127.0.0.1", broker.port, PREFIX, Security(), observer=observe)
        sinks: list[MqttSink] = []
        stop = threading.Event()
        t0 = time.monotonic()
        all_seen_s: list[float] = []

        def pump_loop() -> None:  # the ward's own thread: the view is read and fed only here while it runs
            while not stop.is_set():
                ward.pump(0.1)
                if not all_seen_s and seen(ward.rows()) >= boxes:
                    all_seen_s.append(time.monotonic() - t0)

        pump = threading.Thread(target=pump_loop, name="ward-pump")
        try:
            ward.start()
            ward.wait_connected(30.0)
            cpu0, own0, t0 = cpu_s(broker.proc.pid), cpu_s(os.getpid()), time.monotonic()
            pump.start()
            for i in range(1, boxes + 1):
                box = SimBox(i)
                s = MqttSettings(host="127.0.0.1", port=broker.port, prefix=PREFIX, box_id=box.box_id, keepalive_s=30,
                                 heartbeat_s=HEARTBEAT_S, stats_s=STATS_S, cmd_max_age_s=30.0, security=Security(),
                                 software_version="bench-fleet")
                sink = MqttSink(s, box.view, box.answer)
                sink.start()
                sinks.append(sink)
            time.sleep(max(0.0, t0 + seconds - time.monotonic()))
            broker_cpu, own_cpu = cpu_s(broker.proc.pid) - cpu0, cpu_s(os.getpid()) - own0
            wall = time.monotonic() - t0
            stop.set()
            pump.join()
            messages, live_seen = ward.messages, seen(ward.rows())
            snapshot = _ward_json(broker.port)
        finally:
            stop.set()
            if pump.ident is not None:
                pump.join(10.0)
            stoppers = [threading.Thread(target=sink.stop, args=(2.0,), name=f"stop-{i}") for i, sink in enumerate(sinks)]
            for t in stoppers:
                t.start()
            for t in stoppers:
                t.join(10.0)
            ward.stop()
    json_seen = sum(1 for r in snapshot if r.get("availability") == "online" and r.get("state") == "recording")
    with lock:
        lat = list(latencies_ms)
    p50, p99 = _quantile(lat, 0.50), _quantile(lat, 0.99)
    note = f"{boxes} sinks, heartbeat {HEARTBEAT_S:g} s, {wall:.0f} s, one process with the ward"
    return [
        {"name": "fleet_seen", "median_us": None, "boxes": boxes, "seen_live": live_seen, "seen_ward_json": json_seen,
         "all_seen_after_s": all_seen_s[0] if all_seen_s else None, "note": "online and recording, as the ward and `agma ward --json` saw them"},
        {"name": "status_latency", "median_us": p50 * 1000.0, "p50_ms": p50, "p99_ms": p99,
         "max_ms": max(lat) if lat else float("nan"), "samples": len(lat), "note": note},
        {"name": "broker_cpu", "median_us": None, "cpu_percent": 100.0 * broker_cpu / wall,
         "ward_messages_per_s": messages / wall, "sinks_and_ward_cpu_percent": 100.0 * own_cpu / wall,
         "note": "mosquitto utime+stime over the run, % of one core (and this process's: the sinks and the ward)"},
    ]


@bench.register("fleet", default=False)
def bench_fleet(args) -> list[dict]:
    boxes = int(getattr(args, "boxes", DEFAULT_BOXES))
    seconds = float(getattr(args, "seconds", DEFAULT_SECONDS))
    if boxes < 1 or not 0 < seconds < float("inf"):
        raise UsageError("bench fleet: --boxes must be at least 1 and --seconds above 0")
    return run_fleet(boxes, seconds)
