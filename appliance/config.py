"""Configuration: every key, its type, unit, default and meaning, in this one table.

Sources, highest precedence first: command-line flags > environment (``AGMA_<SECTION>__<KEY>``,
e.g. ``AGMA_STORE__COMMIT_INTERVAL_S=1``) > the TOML file > built-in defaults. The file is the one
named by ``--config``, else by ``AGMA_CONFIG``, else ``/etc/agma/agma.toml`` when it exists; with
none of those the built-in defaults (a simulated session) apply.

Everything is validated once, before anything starts: an unknown key, a wrong type or an
out-of-range value raises ConfigError naming the file (or variable, or flag), the key path and
the reason (exit 78). ``docs/config.md`` is generated from KEYS (``agma config docs``) and a test
keeps it from drifting.
"""
from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

from .capture import SOURCE_NAMES, SOURCES
from .capture.faults import config_check
from .errors import ConfigError
from .pose.decoders import DECODER_NAMES, DECODERS
from .stereo.reasons import ValidityRules

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10 on JetPack 6
    import tomli as tomllib

SYSTEM_CONFIG = Path("/etc/agma/agma.toml")
ENV_CONFIG = "AGMA_CONFIG"
ENV_PREFIX = "AGMA_"
#: systemd's StateDirectory= (e.g. /var/lib/agma): the database's default folder when set.
ENV_SYSTEMD_STATE_DIR = "STATE_DIRECTORY"

#: Environment variables that are not config keys: read where they are used, by steps that run
#: before or without a Config (install, benchmarks, the calibration store), so docs/config.md
#: lists them from here. tests/test_env_vars_documented.py checks that every AGMA_* variable
#: appliance/ reads is a key's environment form or listed here.
OTHER_ENV_VARS: tuple[tuple[str, str], ...] = (
    (ENV_CONFIG, "The TOML file to read when `--config` is not given (before `/etc/agma/agma.toml`)."),
    ("AGMA_STATE_DIR", "The box's state directory (default `/var/lib/agma`): `agma calib install` writes the ZED factory "
                       "calibration to `<state>/calibration/`, where the uvc source reads it offline; `--state-dir` overrides it."),
    ("AGMA_CACHE_DIR", "Cache of compiled code: the CUDA decoder's cubins (`<dir>/cuda`) and the host build of its kernel "
                       "(`<dir>/host`); default `$XDG_CACHE_HOME/agma` (`~/.cache/agma`). Safe to delete: rebuilt on use."),
    ("AGMA_NVRTC", "Path of the `libnvrtc.so` that compiles the CUDA decoder; default: the first found under `$CUDA_HOME`, "
                   "`$CUDA_PATH`, `/usr/local/cuda`, the loader's search path, then the PyPI wheel (CI)."),
    ("AGMA_PTXAS", "Path of `ptxas` (PTX to cubin, CI's CUDA 12.2 check); default: the PyPI wheel's, `$CUDA_HOME/bin`, "
                   "`/usr/local/cuda/bin`, then `PATH`."),
    ("AGMA_NVCC", "Path of `nvcc`, the CUDA decoder's fallback compiler when NVRTC is missing; default: `PATH`, then "
                  "`$CUDA_HOME/bin`, `/usr/local/cuda/bin`."),
    ("AGMA_BENCH_ONNX", "`agma bench`: the ONNX model the engine rows time inference with when `--onnx` is not given."),
    # systemd's, read by the daemon under it (status/systemd_notify.py; docs/usage.md)
    (ENV_SYSTEMD_STATE_DIR, "Set by systemd (`StateDirectory=agma`: `/var/lib/agma`): an empty `store.db` means "
                            "`agma.sqlite` in its first folder, so the database, its dumps (`store.dump_dir`) and the "
                            "control socket (`daemon.socket`) are there, not in the service user's home."),
    ("NOTIFY_SOCKET", "Set by systemd for `Type=notify`: `agma daemon` sends READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 "
                      "there (an AF_UNIX datagram socket; `@name`: abstract)."),
    ("WATCHDOG_USEC", "Set by systemd (`WatchdogSec=`): `agma daemon` sends WATCHDOG=1 every half of it while no stage "
                      "is stalled (`supervisor.stall_after_s`)."),
    ("WATCHDOG_PID", "Set by systemd with `WATCHDOG_USEC`: the process the watchdog is for (another pid: no pings)."),
    ("JOURNAL_STREAM", "Set by systemd when stdout or stderr is the journal (`device:inode`): `agma daemon` then logs "
                       "with the journal's priorities (systemd-python's JournalHandler, else `<N>`-prefixed lines)."),
)


def default_data_dir() -> Path:
    """Where the database lives by default: $XDG_DATA_HOME/agma (~/.local/share/agma)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("agma", appauthor=False))


@dataclass(frozen=True)
class Key:
    """One configuration key: dotted path, Python type, default, unit and meaning."""

    path: str
    type: type
    default: Any
    unit: str
    doc: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    min_exclusive: bool = False
    check: Callable[[Any], str | None] | None = None  # returns a reason when the value is wrong


def _model_spec(value: str) -> str | None:
    if value == "simulated":
        return None
    kind, sep, path = value.partition(":")
    if not sep or kind not in ("onnx", "tensorrt", "trt") or not path:
        return "expected 'simulated', 'onnx:PATH' or 'tensorrt:PATH' (alias 'trt:PATH')"
    return None


BOX_ID_MAX_CHARS = 64
_BOX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _box_id(value: str) -> str | None:
    """box.id names files (<uid>.sqlite dumps) and MQTT topics: a short name of safe characters."""
    if not value or len(value) > BOX_ID_MAX_CHARS or not _BOX_ID.fullmatch(value):
        return (f"expected 1-{BOX_ID_MAX_CHARS} letters, digits, '.', '_' or '-', starting with a letter or digit "
                "(it names files and topics)")
    return None


def _topic_level(value: str) -> str | None:
    """An MQTT topic prefix: one or more levels without wildcards, not starting or ending with '/'."""
    if not value or value.startswith("/") or value.endswith("/") or "//" in value or any(c in value for c in "#+\x00"):
        return "expected topic levels like 'agma' or 'hospital/nicu' (no '#', '+', leading, trailing or double '/')"
    return None


def _roi(value: list) -> str | None:
    if len(value) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return "expected 4 numbers [x, y, width, height]"
    if value[2] <= 0 or value[3] <= 0:
        return "width and height must be positive"
    return None


def _named(pairs: tuple[tuple[str, str], ...]) -> str:
    """(name, meaning) pairs as docs text: 'a (x), b (y) or c (z)'."""
    items = [f"{name} ({meaning})" for name, meaning in pairs]
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else "".join(items)


#: The stereo.* defaults are the validity rules' own (appliance.stereo.reasons).
_RULES = ValidityRules()

KEYS: tuple[Key, ...] = (
    Key("box.id", str, "agma-dev", "", "Name of this box; first part of every session uid, dump file name and MQTT topic: "
        f"1-{BOX_ID_MAX_CHARS} letters, digits, '.', '_' or '-', starting with a letter or digit. No patient data.", check=_box_id),
    Key("box.bed_label", str, "", "", "Bed or warmer label shown with each session (a place, never a patient identifier)."),
    Key("capture.source", str, "synthetic", "", f"Frame source: {_named(SOURCES)}.", choices=SOURCE_NAMES),
    Key("capture.fps", float, 30.0, "frames/s", "Nominal frame rate of the source.", minimum=1.0, maximum=120.0),
    Key("capture.device", str, "0", "", "UVC source: OpenCV device index or /dev/video path."),
    Key("capture.calibration", str, "", "path", "ZED factory calibration file (SN<serial>.conf) for the uvc source; empty: the one installed in the state directory."),
    Key("capture.resolution", str, "HD720", "", "Camera resolution.", choices=("HD720", "FHD", "2K", "VGA")),
    Key("capture.replay_dir", str, "", "path", "Replay source: folder written by --write-replay or holding a side-by-side video and its .conf."),
    Key("capture.serial", int, 0, "", "zed source: serial number of the ZED to open; 0: the first one found.", minimum=0),
    Key("capture.self_calibration", bool, False, "", "zed source: let the ZED SDK adjust the factory calibration at each open (self-calibration). Off: the factory file's values are used, the same at every open, and the session records them."),
    Key("capture.zed_settings_dir", str, "", "path", "zed source: the ZED SDK's settings folder, where it reads SN<serial>.conf and where `agma calib install` also puts it; empty: /usr/local/zed/settings."),
    Key("capture.usb_reset_after_s", float, 30.0, "s", "zed source: a ZED never opened since boot and still absent this long after boot, while its USB device (vendor 2b03) is on the bus, is reset (USBDEVFS_RESET), at most once per 10 minutes; 0: never.", minimum=0.0, maximum=86400.0),
    Key("capture.process", bool, True, "", "`agma daemon` runs the camera in a capture process of its own (runtime/camera_process.py): a hung or crashed camera is killed and replaced without losing the session, and frames cross through shared memory. false: the daemon reads the source in its own capture thread (a camera call that hangs then cannot be interrupted). `agma record` always reads in-process."),
    Key("sim.seed", int, 0, "", "Seed of the synthetic scene and of the simulated model's noise.", minimum=0),
    Key("sim.noise_px", float, 4.6, "px", "Simulated model: overall per-axis, per-view standard deviation of the 2D error in image pixels; 0 is exact.", minimum=0.0, maximum=100.0),
    Key("sim.render", bool, True, "", "Synthetic source: draw the left/right images (needed by a real network and by --write-replay)."),
    Key("sim.shared_fraction", float, 0.87, "", "Simulated model: fraction of the 2D error variance shared by the left and right views (cancels in the disparity).", minimum=0.0, maximum=1.0),
    Key("sim.tail_fraction", float, 0.05, "", "Simulated model: probability that an error component comes from the heavy tail.", minimum=0.0, maximum=1.0),
    Key("sim.tail_scale", float, 5.0, "", "Simulated model: standard deviation of the heavy tail relative to the Gaussian core.", minimum=1.0, maximum=100.0),
    Key("sim.miss_rate", float, 0.002, "", "Simulated model: probability that a joint of one view is missed (weak maximum elsewhere); independent of sim.noise_px.", minimum=0.0, maximum=1.0),
    Key("sim.faults", list, [], "", "Faults injected into the capture process (capture.process), for tests and demonstrations: KIND@START+DURATION, seconds since the source was first opened; kinds stop, hang, crash, absent, and engine_hang (not the camera: the simulated model blocks for ever in inference from START on; DURATION 0).", check=config_check),
    Key("pose.model", str, "simulated", "", "Pose model: 'simulated' (needs a source with ground truth), 'onnx:PATH' or 'tensorrt:PATH' (alias 'trt:PATH'; a TensorRT engine built by agma engine build, with its sidecar: needs tensorrt and pycuda, on the box).", check=_model_spec),
    Key("pose.roi_px", list, [200.0, 0.0, 880.0, 720.0], "px", "Region of interest (x, y, width, height) in the rectified image, both views: the warmer area the crop is made from (the paper's 880x720).", check=_roi),
    Key("pose.convention", str, "dark", "", "The model's pixel convention for crops and flips: dark (DarkPose, 'size - 1') or hrnet (HRNet, 'size * 0.5').", choices=("dark", "hrnet")),
    Key("pose.track", bool, True, "", "Network models: crop each view around the previous frame's confident joints (with a margin), falling back to pose.roi_px."),
    Key("pose.flip_test", bool, False, "", "Network models: also run the mirrored views in the same batch and average the flipped-back heatmaps (slower; see agma bench engine)."),
    Key("pose.decoder", str, "dark", "", f"Heatmap decoder: {_named(DECODERS)}.", choices=DECODER_NAMES),
    Key("stereo.min_score", float, _RULES.min_score, "", "A joint whose score is below this in either view is invalid (low_score).", minimum=0.0, maximum=1.0),
    Key("stereo.min_depth_mm", float, _RULES.min_depth_mm, "mm", "Nearest plausible depth; nearer triangulations are invalid (depth_out_of_range).", minimum=0.0, min_exclusive=True),
    Key("stereo.max_depth_mm", float, _RULES.max_depth_mm, "mm", "Farthest plausible depth; farther triangulations are invalid (depth_out_of_range).", minimum=0.0, min_exclusive=True),
    Key("stereo.max_epipolar_px", float, _RULES.max_epipolar_px, "px", "Largest |v_left - v_right| accepted for one joint in rectified views (epipolar_error).", minimum=0.0, min_exclusive=True),
    Key("store.db", str, "", "path", "SQLite database; empty: agma.sqlite in $STATE_DIRECTORY when systemd sets it (StateDirectory=), else under the user's data directory ($XDG_DATA_HOME/agma)."),
    Key("store.commit_interval_s", float, 0.5, "s", "One transaction per this interval: what a crash may lose at most.", minimum=0.01, maximum=60.0),
    Key("store.queue_frames", int, 512, "frames", "Bound of the writer's queue; a live source that finds it full drops the frame (counted).", minimum=1, maximum=1_000_000),
    Key("store.min_free_mb", float, 256.0, "MB", "Free space (10^6 bytes, on the database's filesystem) kept in reserve: a session starts only when the free space covers this plus its longest duration at the measured bytes per frame plus the WAL's peak (5 MB), and ends as disk_full when the free space falls below it (checked after each commit). Keep it above what the system and other programs need. Only sessions whose dumps were pulled are ever deleted (store.keep_days).", minimum=0.0),
    Key("store.max_session_s", float, 3600.0, "s", "Longest session without a requested duration: it ends by itself (as duration) after this many seconds of frames at the source's rate, and the disk guard reserves room for that long at start.", minimum=0.0, min_exclusive=True, maximum=7 * 86400.0),
    Key("store.resume_after_crash_s", float, 300.0, "s", "The daemon continues a recording interrupted (crash, kill, power cut) less than this long ago as a new session pointing to it (sessions.continues_session); 0 never resumes. `agma record` never resumes.", minimum=0.0, maximum=86400.0),
    Key("store.dump_dir", str, "", "path", "Folder where each finished session's standalone dump waits to be pulled (<uid>.sqlite, then <uid>.sqlite.sha256 once complete); empty: dumps/ beside the database; off: no dumps are written. The box deletes one only with its session (store.keep_days), once pulled."),
    Key("store.warn_free_mb", float, 2048.0, "MB", "Free space beside the database below which a disk_low event is raised (once; again after it recovered): a warning for the desk before store.min_free_mb ends a session.", minimum=0.0),
    Key("store.keep_days", int, 30, "days", "Retention: a finished session whose dump has been pulled (acknowledged by `agma dump --ack UID`, or its pending dump removed from store.dump_dir by the puller) is deleted with its rows once it ended more than this many days ago, by the daemon in an idle moment (no session open), which then vacuums the database when the disk has room for it. A session whose dump was never pulled is never deleted, nor the open one. 0: never delete anything.", minimum=0, maximum=36500),
    Key("pipeline.queue_frames", int, 4, "frames", "Bound of the capture-to-inference queue; when inference falls behind a live source the oldest frame is dropped (counted).", minimum=1, maximum=1000),
    # the box's button and status LED (status/gpio.py; wiring and patterns in docs/controls.md)
    Key("button.enabled", bool, False, "", "Drive the start/stop button and the status LED on the GPIO header (the box; off on a development machine). Needs the GPIO library: pip install 'agma-appliance[box]'."),
    Key("button.chip", str, "/dev/gpiochip0", "path", "GPIO character device of the button and LED lines (both on this chip), or its label (e.g. tegra234-gpio); gpiodetect lists them."),
    Key("button.line", int, 105, "", "Line offset of the button on button.chip. Default: header pin 29 (GPIO01, PQ.05) of the Jetson Orin Nano / Orin NX developer kit; docs/controls.md lists others.", minimum=0, maximum=65535),
    Key("button.led_line", int, 106, "", "Line offset of the LED on button.chip. Default: header pin 31 (GPIO11, PQ.06) of the Jetson Orin Nano / Orin NX developer kit.", minimum=0, maximum=65535),
    Key("button.active_low", bool, True, "", "The button pulls its line low when pressed (wired to ground, with a pull-up)."),
    Key("button.led_active_low", bool, False, "", "The LED lights when its line is low (wired from 3.3 V to the pin); false: it lights when the line is high."),
    Key("button.debounce_ms", float, 30.0, "ms", "A button level counts only once it has been stable this long (contact bounce and glitches are shorter).", minimum=1.0, maximum=200.0),
    Key("button.long_press_s", float, 2.0, "s", "Holding the button this long stops a recording (recognised while held); a shorter press while recording only acknowledges.", minimum=0.5, maximum=10.0),
    Key("camera.hang_after_s", float, 3.0, "s", "capture.process: a capture process alive but without a heartbeat for this long is hung: killed and replaced (a camera_restarted event).", minimum=0.1, maximum=600.0),
    Key("camera.idle_fps", float, 2.0, "frames/s", "capture.process: while no session records, the capture process keeps grabbing but publishes only this many frames per second (camera health stays known).", minimum=0.1, maximum=120.0),
    Key("camera.lost_after_s", float, 1.0, "s", "No frame for this long: the camera counts as lost (status degraded, a camera_lost event; a session stays open and its frame_index shows the gap).", minimum=0.05, maximum=60.0),
    Key("camera.restart_window_s", float, 60.0, "s", "capture.process: more than 5 capture-process failures (hung, crashed) within this long make the camera `error` (the daemon stays up, says so, and retries every 30 s). Shorter only for tests and demonstrations.", minimum=1.0, maximum=3600.0),
    Key("supervisor.stall_after_s", float, 3.0, "s", "A stage (inference, writer, a status sink) whose loop has not turned for this long is stalled: health error naming it. Waiting for an absent camera is not a stall.", minimum=0.1, maximum=600.0),
    Key("supervisor.join_timeout_s", float, 5.0, "s", "At shutdown, how long the runtime waits for its threads; one still stuck in a device call after it is logged by name and the process ends anyway (os._exit) with the exit code it would have had.", minimum=0.1, maximum=600.0),
    Key("daemon.socket", str, "", "path", "The daemon's local control socket (Unix stream, one JSON request per line); empty: agma.sock beside the database."),
    Key("daemon.socket_group", str, "", "", "Group whose members may use the control socket (mode 0660); empty: only root and the daemon's own user."),
    Key("mqtt.enabled", bool, False, "", "Publish availability, status, stats and events to an MQTT broker and take commands from it (docs/mqtt.md). Off: nothing is sent and no event is queued for a broker."),
    Key("mqtt.host", str, "localhost", "", "Broker host name or address (the box's local Mosquitto, bridged to the hospital's: docs/mqtt.md)."),
    Key("mqtt.port", int, 1883, "", "Broker port (8883 is the usual one for TLS).", minimum=1, maximum=65535),
    Key("mqtt.prefix", str, "agma", "", "First level of every topic: <prefix>/<box.id>/<topic>.", check=_topic_level),
    Key("mqtt.keepalive_s", int, 30, "s", "MQTT keepalive: the broker sends the Last Will (availability offline) after 1.5 times this without a packet.", minimum=5, maximum=3600),
    Key("mqtt.heartbeat_s", float, 10.0, "s", "The retained status is republished at least this often (and on every change and reconnect); a desk counts a box stale after 3 of these without one.", minimum=0.5, maximum=3600.0),
    Key("mqtt.stats_s", float, 60.0, "s", "How often the stats topic is published (temperatures, power mode, GPU, CPU, memory, stage latencies).", minimum=1.0, maximum=86400.0),
    Key("mqtt.cmd_max_age_s", float, 30.0, "s", "A command whose sent_at is older than this is refused as stale.", minimum=1.0, maximum=86400.0),
    Key("mqtt.username", str, "", "", "Username at the broker (with the example ACL: the box's own id); empty: none."),
    Key("mqtt.password_file", str, "", "path", "File holding the broker password (its first line), readable by the daemon only; empty: no password."),
    Key("mqtt.tls_ca", str, "", "path", "CA certificate (PEM) that signed the broker's certificate; set: the connection uses TLS and verifies the broker."),
    Key("mqtt.tls_cert", str, "", "path", "Client certificate (PEM) for brokers that authenticate boxes by certificate; needs mqtt.tls_key."),
    Key("mqtt.tls_key", str, "", "path", "Private key (PEM) of mqtt.tls_cert."),
    Key("ward.host", str, "localhost", "", "agma ward: the broker the monitoring desk reads (--broker overrides it)."),
    Key("ward.port", int, 1883, "", "agma ward: broker port.", minimum=1, maximum=65535),
    Key("ward.prefix", str, "agma", "", "agma ward: the boxes' mqtt.prefix.", check=_topic_level),
    Key("ward.username", str, "", "", "agma ward: the monitor account (under the example ACL only monitors read every box)."),
    Key("ward.password_file", str, "", "path", "agma ward: file holding the monitor account's password."),
    Key("ward.tls_ca", str, "", "path", "agma ward: CA certificate of the broker (TLS)."),
    Key("ward.tls_cert", str, "", "path", "agma ward: client certificate, when the broker wants one."),
    Key("ward.tls_key", str, "", "path", "agma ward: private key of ward.tls_cert."),
)
KEY_BY_PATH: dict[str, Key] = {k.path: k for k in KEYS}


@dataclass(frozen=True)
class Config:
    """Validated configuration: values by key path, and where each value came from."""

    values: Mapping[str, Any]
    origins: Mapping[str, str]
    file: str | None

    def __getitem__(self, path: str) -> Any:
        return self.values[path]

    @property
    def db_path(self) -> Path:
        db = self.values["store.db"]
        return Path(db).expanduser() if db else default_data_dir() / "agma.sqlite"

    def require_db_folder(self) -> None:
        """A configured store.db must be in an existing folder: a recorder never creates a mistyped tree.

        Only the default location (the user's data directory) is created on first use. Each
        writer (agma record, the daemon) calls this before opening anything; readers need no check.
        """
        folder = self.db_path.parent
        if self.values["store.db"] and not folder.is_dir():
            raise ConfigError(self.origins["store.db"], "store.db",
                              f"folder {folder} does not exist (create it first; only the default location is created)")

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path, value in self.values.items():
            section, name = path.split(".", 1)
            out.setdefault(section, {})[name] = value
        return out


def _coerce(key: Key, value: Any, where: str) -> Any:
    """Check one value's type (strictly: TOML gives typed values), range and choices."""
    t = key.type
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if t is list and isinstance(value, (list, tuple)):
        value = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    if t is bool:
        ok = isinstance(value, bool)
    elif t is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, t)
    if not ok:
        raise ConfigError(where, key.path, f"expected {t.__name__}, got {type(value).__name__} {value!r}")
    if t is float and not math.isfinite(value):
        raise ConfigError(where, key.path, f"expected a finite number, got {value!r}")
    if key.choices is not None and value not in key.choices:
        raise ConfigError(where, key.path, f"must be one of {', '.join(map(str, key.choices))}, got {value!r}")
    if key.minimum is not None and (value < key.minimum or (key.min_exclusive and value == key.minimum)):
        op = ">" if key.min_exclusive else ">="
        raise ConfigError(where, key.path, f"must be {op} {key.minimum:g} {key.unit}".rstrip() + f", got {value!r}")
    if key.maximum is not None and value > key.maximum:
        raise ConfigError(where, key.path, f"must be <= {key.maximum:g} {key.unit}".rstrip() + f", got {value!r}")
    if key.check is not None:
        reason = key.check(value)
        if reason:
            raise ConfigError(where, key.path, f"{reason}, got {value!r}")
    return value


def _parse_env(key: Key, text: str, where: str) -> Any:
    """Environment variables are strings: read them as TOML values, or as plain strings for str keys."""
    if key.type is str:
        return text
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        raise ConfigError(where, key.path, f"expected {key.type.__name__}, got {text!r}") from None


def env_var(path: str) -> str:
    section, name = path.split(".", 1)
    return f"{ENV_PREFIX}{section.upper()}__{name.upper()}"


def _flatten(table: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        path = f"{prefix}{name}"
        if isinstance(value, dict):
            if not any(k.path.startswith(path + ".") for k in KEYS):
                raise ConfigError(where, path, "unknown section")
            flat.update(_flatten(value, where, path + "."))
        elif path not in KEY_BY_PATH:
            raise ConfigError(where, path, "unknown key")
        else:
            flat[path] = value
    return flat


def config_file(cli_path: str | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read: --config, else $AGMA_CONFIG, else /etc/agma/agma.toml if it exists."""
    if cli_path:
        return Path(cli_path)
    if environ.get(ENV_CONFIG):
        return Path(environ[ENV_CONFIG])
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def load(cli_path: str | None = None, overrides: Mapping[str, tuple[Any, str]] | None = None,
         environ: Mapping[str, str] | None = None) -> Config:
    """Build the validated Config.

    overrides: key path -> (value, where), e.g. {"store.db": ("x.sqlite", "command line --db")};
    None values are ignored (flag not given).
    """
    environ = os.environ if environ is None else environ
    values = {k.path: k.default for k in KEYS}
    origins = {k.path: "default" for k in KEYS}

    path = config_file(cli_path, environ)
    if path is not None:
        where = str(path)
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise ConfigError(where, None, f"cannot read config file ({exc.strerror or exc})") from None
        try:
            table = tomllib.loads(text.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(where, None, f"not valid TOML ({exc})") from None
        for key_path, value in _flatten(table, where).items():
            values[key_path] = _coerce(KEY_BY_PATH[key_path], value, where)
            origins[key_path] = where

    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name or name == ENV_CONFIG:
            continue
        section, _, key_name = name[len(ENV_PREFIX):].partition("__")
        key_path = f"{section.lower()}.{key_name.lower()}"
        where = f"environment {name}"
        if key_path not in KEY_BY_PATH:
            raise ConfigError(where, key_path, "unknown key")
        key = KEY_BY_PATH[key_path]
        values[key_path] = _coerce(key, _parse_env(key, text, where), where)
        origins[key_path] = where

    for key_path, (value, where) in (overrides or {}).items():
        if value is None:
            continue
        values[key_path] = _coerce(KEY_BY_PATH[key_path], value, where)
        origins[key_path] = where

    state_dir = environ.get(ENV_SYSTEMD_STATE_DIR, "").split(":")[0]
    if not values["store.db"] and state_dir:  # under systemd: its state directory, not the user's home
        values["store.db"] = str(Path(state_dir) / "agma.sqlite")
        origins["store.db"] = f"environment {ENV_SYSTEMD_STATE_DIR} (systemd)"

    lo, hi = values["stereo.min_depth_mm"], values["stereo.max_depth_mm"]
    if lo >= hi:
        raise ConfigError(origins["stereo.max_depth_mm"], "stereo.max_depth_mm",
                          f"must be greater than stereo.min_depth_mm ({lo:g} mm), got {hi:g}")
    return Config(values=values, origins=origins, file=str(path) if path else None)


def toml_value(value: Any) -> str:
    """One value as TOML (the types KEYS uses: str, bool, int, float, list of numbers)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)  # finite (validated): 30.0, 1e-05 and 7 are TOML as written
    if isinstance(value, str):
        # a TOML basic string: JSON's escapes are TOML's (raw non-ASCII: TOML has no surrogate pairs)
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def to_toml(cfg: Config, notes: Mapping[str, str] | None = None) -> str:
    """The effective configuration as a TOML file that loads back to the same values.

    Each key is followed by a comment: where its value came from, then notes[path] when given
    (e.g. the path actually in use for an empty store.db).
    """
    lines = [f"# effective agma configuration; file: {cfg.file or '(none: built-in defaults)'}",
             "# loads back as is: agma --config THIS_FILE config check"]
    for section, keys in groupby(KEYS, key=lambda k: k.path.split(".")[0]):
        lines += ["", f"[{section}]"]
        for k in keys:
            note = (notes or {}).get(k.path)
            comment = f"{cfg.origins[k.path]}" + (f"; {note}" if note else "")
            lines.append(f"{k.path.split('.', 1)[1]} = {toml_value(cfg.values[k.path])}  # {comment}".replace("\n", " "))
    return "\n".join(lines) + "\n"


def docs_markdown() -> str:
    """docs/config.md, generated from KEYS."""
    lines = [
        "# Configuration keys",
        "",
        "Generated by `agma config docs` from `appliance/config.py` (a test keeps this file equal to it).",
        "",
        "Precedence: command-line flags > environment (`AGMA_<SECTION>__<KEY>`) > the TOML file",
        "(`--config FILE`, else `$AGMA_CONFIG`, else `/etc/agma/agma.toml` when it exists) > defaults.",
        "An unknown key, a wrong type or an out-of-range value stops every command with exit code 78",
        "and one line naming the file, the key path and the reason.",
        "",
    ]
    for section, keys in groupby(KEYS, key=lambda k: k.path.split(".")[0]):
        lines += [f"## [{section}]", "", "| key | type | unit | default | environment | meaning |", "|---|---|---|---|---|---|"]
        for k in keys:
            lines.append(_docs_row(k))
        lines.append("")
    lines += ["## Environment variables that are not keys", "",
              "Not configuration keys (no file or flag sets them): each is read where it is used, by what runs before or "
              "without a configuration: finding the file, installation, builds, benchmarks, the calibration store, "
              "systemd's service environment.", "",
              "| variable | meaning |", "|---|---|"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in OTHER_ENV_VARS]
    lines.append("")
    return "\n".join(lines)


def _docs_row(k: Key) -> str:
    """One key's row of the docs/config.md table."""
    default = repr(k.default).replace("'", '"') if k.type is str else str(k.default).lower() if k.type is bool else k.default
    extra = ""
    if k.choices:
        extra = " One of: " + ", ".join(f"`{c}`" for c in k.choices) + "."
    rng = []
    if k.minimum is not None:
        rng.append(f"{'>' if k.min_exclusive else '≥'} {k.minimum:g}")
    if k.maximum is not None:
        rng.append(f"≤ {k.maximum:g}")
    if rng:
        extra += " Range: " + ", ".join(rng) + "."
    return f"| `{k.path}` | {k.type.__name__} | {k.unit} | `{default}` | `{env_var(k.path)}` | {k.doc}{extra} |"
