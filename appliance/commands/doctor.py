"""`agma doctor [--json]`: every check a technician needs before the first session, one line each.

Twelve checks, in this order, each with a name, ok, a detail and, when it fails, its fix:

- ``config``: the configuration loads and is valid (an invalid one is this check failing, exit 1,
  not exit 78: the checks that need it then say they were not run, never passed);
- ``state_dir``: the box's state directory ($AGMA_STATE_DIR, else /var/lib/agma) is a folder this
  user may write (the calibration, the USB reset's state);
- ``disk``: the free space beside the database covers a session's start (store.min_free_mb + the
  WAL + store.max_session_s at the disk guard's bytes per frame) and store.warn_free_mb, with the
  days left at the rate measured in the database (store/retention.py);
- ``database``: a database that does not exist yet is fine (its folder must); else it opens,
  ``PRAGMA quick_check`` finds it intact, its schema is not newer than this agma, and the
  migrations the next start will apply (after a backup copy) are named;
- ``camera``: capture.source zed or uvc: a USB device of vendor 2b03 (Stereolabs) is on the bus,
  or the ZED SDK sees a camera;
- ``calibration``: the camera's SN<serial>.conf is installed in the state directory (and, for the
  zed source, the same file in the ZED SDK's settings folder) and parses at capture.resolution;
- ``engine``: pose.model tensorrt: the engine file, its sidecar, TensorRT and the GPU, and the
  sidecar matches them (pose/engines/sidecar.py's check, with its rebuild command);
- ``cuda_kernels``: pose.model tensorrt: the CUDA decoder's cubin for this GPU's SM, from these
  sources, is in the cache (``agma engine kernels`` builds it; doctor never does);
- ``clock``: the kernel says the clock is synchronised (adjtimex: what timedatectl's
  NTPSynchronized reads), it is not before 2025, and not before the newest time the database
  holds (a wrong clock writes wrong t_ns);
- ``broker``: mqtt.enabled: one real connection with the configured credentials and TLS files
  (status/mqtt.py's probe_broker: the handshake verifies the broker's certificate);
- ``gpio``: button.enabled: button.chip is a GPIO chip with both lines, held by no other program;
- ``service``: systemd runs this machine and agma.service is installed, enabled and not failed.

A check that does not apply here (``engine`` with a simulated model, ``broker`` with MQTT off...)
passes with a detail that says so ("not used: ..."); none is skipped silently.

Doctor never writes anything: no file, no folder, no database (a missing one is not created; an
existing one is read without making its -wal/-shm: store/listing.py's untouched_uri), no cache,
no message on the broker. ``--json``: ``{"checks": [{"name", "ok", "detail", "fix"}, ...]}``
(fix: null when ok). Exit 0 when every check passed, else 1.
"""
from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import AgmaError, ConfigError
from ..output import emit_json

log = logging.getLogger(__name__)

NAMES = ("config", "state_dir", "disk", "database", "camera", "calibration", "engine", "cuda_kernels", "clock",
         "broker", "gpio", "service")
#: The checks that read the configuration: with an invalid one they are reported as not run.
NEEDS_CONFIG = frozenset(NAMES) - {"config", "state_dir", "clock", "service"}
#: A wall clock before this (2025-01-01T00:00:00Z) is wrong: a box without an RTC battery boots in 1970.
CLOCK_FLOOR_NS = 1_735_689_600 * 10**9
#: The unit scripts/install.sh installs (systemd/agma.service).
UNIT = "agma.service"
INSTALL = "sudo scripts/install.sh (docs/install.md)"


@dataclass(frozen=True)
class Check:
    """One check's outcome: ``fix`` says what to do when it failed ("" when it passed)."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix or None}


def passed(name: str, detail: str) -> Check:
    return Check(name, True, detail)


def failed(name: str, detail: str, fix: str) -> Check:
    return Check(name, False, detail, fix)


@dataclass(frozen=True)
class Machine:
    """Where doctor looks: this machine by default; tests point parts of it at temporary trees.

    sysfs_usb: the USB devices' sysfs folder (None: capture/usb_reset.py's SYSFS_USB);
    systemd_dir: exists when systemd runs the machine (sd_booted()); systemctl: its command;
    gpu_sm: this GPU's compute capability (None: asked from the GPU through pycuda);
    now_ns: the wall clock (None: time.time_ns()); timeout_s: the broker's answer, at most.
    """

    sysfs_usb: Path | None = None
    systemd_dir: Path = Path("/run/systemd/system")
    systemctl: str = "systemctl"
    gpu_sm: int | None = None
    now_ns: int | None = None
    timeout_s: float = 5.0

    def now(self) -> int:
        return time.time_ns() if self.now_ns is None else self.now_ns


def register(sub, common) -> None:
    p = sub.add_parser("doctor", parents=[common], help="check this machine before the first session (changes nothing)",
                       description="Every check a technician needs before the first session, one line each with its "
                                   "fix: config, state_dir, disk, database, camera, calibration, engine, cuda_kernels, "
                                   "clock, broker, gpio, service. Writes nothing. Exit 0 when all pass, else 1. "
                                   "--json: {\"checks\": [{\"name\", \"ok\", \"detail\", \"fix\"}, ...]}.")
    p.set_defaults(handler=run)


def run(args) -> int:
    checks = run_checks(getattr(args, "config", None))
    if args.json:
        emit_json({"checks": [c.as_dict() for c in checks]})
    else:
        width = max(len(n) for n in NAMES)
        for c in checks:
            line = f"{'ok' if c.ok else 'FAIL':<4}  {c.name:<{width}}  {c.detail}"
            print(line + (f"  -> fix: {c.fix}" if not c.ok else ""))
        bad = [c.name for c in checks if not c.ok]
        print(f"{len(checks) - len(bad)} of {len(checks)} checks passed" + (f"; failed: {', '.join(bad)}" if bad else ""))
    return 0 if all(c.ok for c in checks) else 1


def run_checks(config_path: str | None = None, machine: Machine | None = None) -> list[Check]:
    """Every check, in NAMES' order; config_path: --config (None: $AGMA_CONFIG, /etc/agma/agma.toml)."""
    from .. import config as config_mod

    machine = machine or Machine()
    try:
        cfg = config_mod.load(config_path)
        first = passed("config", f"{cfg.file} is valid" if cfg.file else
                       "no configuration file (--config, $AGMA_CONFIG, /etc/agma/agma.toml): the built-in defaults, "
                       "a simulated session")
    except ConfigError as exc:
        cfg = None
        first = failed("config", str(exc), _config_fix(exc))
    checks = [first]
    for name in NAMES[1:]:
        if cfg is None and name in NEEDS_CONFIG:
            checks.append(failed(name, "not checked: the configuration is not valid (config)",
                                 "fix the configuration first (the config check's fix), then run agma doctor again"))
            continue
        fn: Callable[..., Check] = CHECKS[name]
        try:
            checks.append(fn(cfg, machine))
        except Exception as exc:  # a check must not hide the others: its failure is its line
            log.info("agma doctor: the %s check failed", name, exc_info=True)
            checks.append(failed(name, f"the check itself failed: {type(exc).__name__}: {exc}",
                                 "report this with the traceback agma doctor -v prints"))
    return checks


def _config_fix(exc: ConfigError) -> str:
    where = exc.where
    target = f"{exc.key} in {where}" if exc.key else where
    return (f"correct {target} (docs/config.md lists every key with its type and range: agma config docs), "
            f"then agma config check")


# -- state_dir ----------------------------------------------------------------------------------------------

def _user() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _blocking_file(path: Path) -> Path | None:
    """The first path above ``path`` that exists and is not a folder (why path cannot exist)."""
    for parent in reversed(path.absolute().parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def check_state_dir(cfg, machine: Machine) -> Check:
    from ..capture.zed_calibration import ENV_STATE_DIR, resolve_state_dir

    d = resolve_state_dir()
    origin = f"${ENV_STATE_DIR}" if os.environ.get(ENV_STATE_DIR) else f"the default; ${ENV_STATE_DIR} overrides it"
    other = f"set {ENV_STATE_DIR} to the box's state directory, or run {INSTALL}, which makes /var/lib/agma"
    blocker = _blocking_file(d)
    if blocker is not None:
        return failed("state_dir", f"{d} ({origin}) cannot exist: {blocker} is a file", other)
    if not d.exists():
        return failed("state_dir", f"{d} ({origin}) does not exist",
                      f"{INSTALL} makes it for the agma user; or sudo install -d -o agma -g agma -m 0750 {d}")
    if not d.is_dir():
        return failed("state_dir", f"{d} ({origin}) is not a folder", other)
    if not os.access(d, os.W_OK | os.X_OK):
        return failed("state_dir", f"{d} ({origin}) is not writable by {_user()}",
                      f"run agma as the service's user (sudo -u agma ...), or sudo chown agma:agma {d}")
    return passed("state_dir", f"{d} ({origin}) is writable by {_user()}")


# -- the database, read without writing -------------------------------------------------------------------

def _connect(db: Path) -> sqlite3.Connection:
    """A read-only connection that creates nothing beside the file (store/listing.py's untouched_uri)."""
    from ..store.listing import untouched_uri

    conn = sqlite3.connect(untouched_uri(db), uri=True, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def _existing_db(cfg) -> Path | None:
    db = cfg.db_path
    return db if db.is_file() and db.stat().st_size > 0 else None


def check_disk(cfg, machine: Machine) -> Check:
    from ..runtime.box import session_frame_budget
    from ..store import diskguard, retention
    from ..store.dump import pending_dump_dir

    db = cfg.db_path
    folder = diskguard.existing_dir(db)
    free = diskguard.free_bytes(db)
    max_frames, limit_from = session_frame_budget(cfg, None, cfg["capture.fps"])
    min_free, warn = cfg["store.min_free_mb"], cfg["store.warn_free_mb"]
    problems = []
    try:
        start = diskguard.check_start(db, min_free, max_frames, limit_from=limit_from)
        needed = start.needed_bytes
    except diskguard.DiskSpaceError as exc:
        problems.append(str(exc))
        needed = None
    if free < warn * diskguard.MB:
        problems.append(f"{free / diskguard.MB:.0f} MB free is below store.warn_free_mb ({warn:g} MB): the daemon "
                        "raises disk_low at once")
    dumps = pending_dump_dir(cfg)
    copies = 2 if dumps is not None and retention.same_filesystem(dumps, db) else 1
    rate, rate_note = None, ""
    existing = _existing_db(cfg)
    if existing is not None:
        try:
            conn = _connect(existing)
            try:
                rate = retention.recorded_bytes_per_day(conn, machine.now(), stored_copies=copies)
            finally:
                conn.close()
        except sqlite3.Error as exc:
            rate_note = f" (no rate: the database cannot be read: {exc})"
    outlook = retention.Outlook(free, rate, retention.days_left(free, rate, min_free * diskguard.MB), copies)
    text = f"on {folder}: {outlook.text()}{rate_note}"
    if problems:
        return failed("disk", f"{text}; " + "; ".join(problems),
                      f"make room on {folder} (agma dump --new pulls the finished sessions; the daemon deletes pulled "
                      f"ones after store.keep_days), or put store.db on a larger disk")
    copies_note = " (the pending dumps share the disk: twice the rate)" if copies == 2 and rate else ""
    return passed("disk", f"{text}{copies_note}; a session needs {needed / diskguard.MB:.0f} MB to start "
                          f"(store.min_free_mb {min_free:g} + {limit_from})")


def check_database(cfg, machine: Machine) -> Check:
    from ..store import integrity, migrations
    from ..store.schema import SCHEMA_VERSION

    db = cfg.db_path
    if db.is_dir():
        return failed("database", f"store.db {db} is a folder", f"set store.db to a file name in it, e.g. {db / 'agma.sqlite'}")
    if not db.exists():
        if cfg["store.db"] and not db.parent.is_dir():
            return failed("database", f"no database yet at {db}, and its folder {db.parent} does not exist "
                                      "(only the default location is made)", f"mkdir -p {db.parent}, or correct store.db")
        return passed("database", f"no database yet at {db}: the first session creates it")
    if db.stat().st_size == 0:
        return passed("database", f"{db} is empty: the first session creates its schema")
    try:
        conn = _connect(db)
    except sqlite3.Error as exc:
        return failed("database", f"{db} cannot be opened ({exc})", f"check its owner and mode (ls -l {db})")
    try:
        try:
            problems = integrity.quick_check(db, conn)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError):  # unreadable, busy: not the file's content
                return failed("database", f"{db} cannot be read ({exc})",
                              f"check its owner and mode (ls -l {db}), and run agma doctor as the agma user")
            if "not a database" in str(exc):
                return failed("database", f"{db} is not an SQLite database ({exc})",
                              "move it away (the first session then creates a new one), or correct store.db")
            return failed("database", f"{db} is damaged (quick_check: {exc})",
                          f"recover its rows with {integrity.recover_advice(db)} and record into a new file")
        if problems != ["ok"]:
            more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
            return failed("database", f"{db} is damaged (quick_check: {problems[0]}{more})",
                          f"recover its rows with {integrity.recover_advice(db)} and record into a new file")
        try:
            version = migrations.check_version(conn, db)
        except migrations.SchemaError as exc:
            newer = "newer than" in str(exc)
            return failed("database", str(exc).replace("; nothing was changed", ""),
                          "install the agma that wrote it (or a newer one), or set store.db to another file" if newer
                          else "move it away or correct store.db: it is not the box's database")
    finally:
        conn.close()
    if version is None:
        return passed("database", f"{db}: no tables yet: the first session creates its schema")
    pending = [m.name for m in migrations.MIGRATIONS if m.from_version >= version]
    text = f"{db}: intact (quick_check), schema version {version}"
    if pending:
        text += (f"; the next start migrates it to {SCHEMA_VERSION} ({', '.join(pending)}), after a backup copy "
                 f"{migrations.backup_path(db, version).name}")
    return passed("database", text)


# -- camera, calibration --------------------------------------------------------------------------------------

def _usb_devices(machine: Machine):
    from ..capture import usb_reset

    root = usb_reset.SYSFS_USB if machine.sysfs_usb is None else machine.sysfs_usb
    return root, usb_reset.find_devices(root)


def _sdk_cameras() -> tuple[list[str] | None, str]:
    """The serial numbers the ZED SDK sees, or None and why it cannot be asked."""
    from ..capture.zed import import_pyzed

    try:
        sl = import_pyzed()
    except ConfigError as exc:
        return None, exc.reason
    return [str(d.serial_number) for d in sl.Camera.get_device_list()], ""


def check_camera(cfg, machine: Machine) -> Check:
    source = cfg["capture.source"]
    if source not in ("zed", "uvc"):
        return passed("camera", f"not used: capture.source is {source}")
    root, devices = _usb_devices(machine)
    if devices:
        found = ", ".join(f"{d.name} (2b03:{d.product or '?'})" for d in devices)
        if source == "uvc" and cfg["capture.device"].startswith("/") and not Path(cfg["capture.device"]).exists():
            return failed("camera", f"the ZED is on USB ({found}) but capture.device {cfg['capture.device']} does not exist",
                          "set capture.device to the ZED's video device (v4l2-ctl --list-devices)")
        return passed("camera", f"ZED on USB: {found}")
    sdk_note = ""
    if source == "zed":
        serials, why = _sdk_cameras()
        if serials:
            return passed("camera", f"the ZED SDK sees {', '.join('SN' + s for s in serials)}")
        sdk_note = ("; the ZED SDK sees no camera" if serials is not None
                    else f"; and the ZED SDK cannot be asked: {why.split(': install', 1)[0]}")
    return failed("camera", f"no USB device of vendor 2b03 (Stereolabs) in {root}{sdk_note}",
                  "plug the ZED into a USB 3 port of the box, the cable fully in (lsusb -d 2b03: then lists it)")


def check_calibration(cfg, machine: Machine) -> Check:
    from ..capture.zed import calibration_status, settings_dir
    from ..capture.zed_calibration import calibration_dir, load_zed_calibration, serial_from_filename

    source = cfg["capture.source"]
    if source not in ("zed", "uvc"):
        return passed("calibration", f"not used: capture.source is {source}")
    resolution = cfg["capture.resolution"]

    def loads(path: Path, where: str) -> Check | None:
        try:
            load_zed_calibration(path, resolution)
        except AgmaError as exc:
            text = str(exc) if str(path) in str(exc) else f"{where}: {exc}"
            return failed("calibration", text, "install the camera's factory file again: agma calib install SN<serial>.conf")
        return None

    if source == "uvc" and cfg["capture.calibration"]:
        path = Path(cfg["capture.calibration"]).expanduser()
        if not path.is_file():
            return failed("calibration", f"capture.calibration {path} does not exist",
                          "correct capture.calibration, or empty it and agma calib install the camera's SN<serial>.conf")
        return loads(path, "capture.calibration") or passed("calibration", f"{path} ({resolution}) loads")
    ours = calibration_dir()
    serial, how = str(cfg["capture.serial"] or ""), "capture.serial"
    if not serial and source == "zed":
        seen, _ = _sdk_cameras()
        if seen and len(seen) == 1:
            serial, how = seen[0], "the camera the ZED SDK sees"
    if not serial:
        files = sorted(p for p in ours.glob("*") if p.is_file() and serial_from_filename(p)) if ours.is_dir() else []
        if not files:
            return failed("calibration", f"no SN<serial>.conf installed in {ours}",
                          "agma calib install SN<serial>.conf (the camera's factory file, from calib.stereolabs.com/?SN=<serial> "
                          "on a connected machine)")
        if len(files) > 1:
            return failed("calibration", f"{len(files)} calibration files in {ours} ({', '.join(p.name for p in files)})",
                          "set capture.serial to the camera's serial number")
        serial, how = serial_from_filename(files[0]), f"the one installed in {ours}"
    install = (f"agma calib install SN{serial}.conf (the camera's factory file, from calib.stereolabs.com/?SN={serial} "
               "on a connected machine)")
    status = calibration_status(serial, cfg["capture.zed_settings_dir"])
    if not status["state_conf"]:
        return failed("calibration", f"no SN{serial}.conf (serial from {how}) in {ours}", install)
    problem = loads(Path(status["state_conf"]), status["state_conf"])
    if problem is not None:
        return problem
    if source == "uvc":
        return passed("calibration", f"{status['state_conf']} (serial {serial} from {how}, {resolution}) loads")
    sdk_dir = settings_dir(cfg["capture.zed_settings_dir"])
    if not status["sdk_conf"]:
        return failed("calibration", f"{status['state_conf']} is installed but the ZED SDK's folder {sdk_dir} has no "
                                     f"SN{serial}.conf (it would try to download it)",
                      f"agma calib install {status['state_conf']} as a user who may write {sdk_dir}")
    if not status["installed"]:
        return failed("calibration", f"{status['sdk_conf']} (the ZED SDK's) differs from {status['state_conf']}",
                      f"agma calib install {status['state_conf']} (copies the same file to both)")
    return passed("calibration", f"SN{serial}.conf (serial from {how}) in {ours} and {Path(status['sdk_conf']).parent}, "
                                 f"the same file; {resolution} loads")


# -- engine, cuda_kernels ---------------------------------------------------------------------------------

def _engine_path(cfg) -> Path | None:
    kind, _, path = cfg["pose.model"].partition(":")
    return Path(path).expanduser() if kind in ("tensorrt", "trt") else None


def check_engine(cfg, machine: Machine) -> Check:
    spec = cfg["pose.model"]
    path = _engine_path(cfg)
    if path is None:
        kind, _, onnx = spec.partition(":")
        if kind == "onnx" and not Path(onnx).expanduser().is_file():
            return failed("engine", f"pose.model {spec}: no such ONNX file", "correct pose.model (agma engine export makes one)")
        return passed("engine", f"not used: pose.model is {spec} (no TensorRT engine)")
    from ..pose.engines.sidecar import SidecarError, check, read_sidecar, rebuild_command
    from ..pose.engines.tensorrt_engine import describe_runtime, import_tensorrt

    build = "agma engine build --onnx F.onnx -o " + str(path) + " --fp16 (engines/RECIPE.md)"
    if not path.is_file():
        return failed("engine", f"{path} (pose.model): no such TensorRT engine file", f"build it on this box: {build}")
    try:
        sidecar = read_sidecar(path)
    except SidecarError as exc:
        return failed("engine", str(exc), f"rebuild it on this box (agma engine build writes the sidecar): {build}")
    try:
        trt = import_tensorrt()
    except AgmaError as exc:
        return failed("engine", str(exc).split(": run this", 1)[0],
                      "on the box: sudo apt install python3-libnvinfer, with agma's venv made with --system-site-packages "
                      f"({INSTALL} does both)")
    from ..pose.cuda.decoder import CudaUnavailable, driver

    try:
        runtime = describe_runtime(trt, driver())
    except CudaUnavailable as exc:
        return failed("engine", f"TensorRT {trt.__version__}, but no GPU to run {path.name} on: {exc}",
                      "install pycuda against the box's CUDA (the wheelhouse has it: scripts/install.sh)")
    refusal = check(sidecar, runtime, engine_path=path)
    if refusal is not None:
        return failed("engine", refusal.split(": rebuild it here", 1)[0], rebuild_command(sidecar, path))
    return passed("engine", f"{path} ({sidecar.precision}, batch {sidecar.profile_min_batch}-{sidecar.profile_max_batch}) "
                            f"matches TensorRT {runtime.tensorrt_version} on {runtime.gpu_name} sm {runtime.compute_capability}")


def check_cuda_kernels(cfg, machine: Machine) -> Check:
    if _engine_path(cfg) is None:
        return passed("cuda_kernels", f"not used: pose.model is {cfg['pose.model']} (the CUDA decoder decodes a "
                                      "TensorRT engine's heatmaps)")
    from ..pose.cuda import build

    cache = build.default_cache_dir()
    fix = f"agma engine kernels, with the AGMA_CACHE_DIR the service has (this looked in {cache})"
    sm, why = machine.gpu_sm, ""
    if sm is None:
        from ..pose.cuda.decoder import CudaUnavailable, device_sm

        try:
            sm = device_sm()
        except CudaUnavailable as exc:
            why = str(exc)
    if sm is None:
        anything = sorted(p.name for p in cache.glob("decode_heatmaps-*.cubin"))
        if not anything:
            return failed("cuda_kernels", f"no compiled CUDA decoder in {cache} (and this GPU cannot be asked: {why})", fix)
        return failed("cuda_kernels", f"cannot tell this GPU to match {', '.join(anything)} in {cache}: {why}",
                      "install pycuda against the box's CUDA (the wheelhouse has it: scripts/install.sh)")
    found = build.cached_cubins(sm, cache)
    if not found:
        others = sorted(p.name for p in cache.glob("decode_heatmaps-*.cubin"))
        also = f" (it holds {', '.join(others)}: another GPU or older sources)" if others else ""
        return failed("cuda_kernels", f"no CUDA decoder for sm_{sm} from these sources in {cache}{also}", fix)
    return passed("cuda_kernels", f"{', '.join(p.name for p in found)} (sm_{sm}) in {cache}")


# -- clock ----------------------------------------------------------------------------------------------

#: linux/timex.h: the kernel's "clock not synchronised" status bit.
STA_UNSYNC = 0x0040


def kernel_clock_synchronised() -> tuple[bool | None, str]:
    """(synchronised, how it was read): adjtimex(2) with no modes set only reads; what systemd's
    timedatectl reports as NTPSynchronized (the kernel clears STA_UNSYNC once an NTP client
    disciplines the clock). None when it cannot be read (not Linux, no libc)."""
    import ctypes
    import ctypes.util

    class Timeval(ctypes.Structure):
        _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]

    class Timex(ctypes.Structure):  # struct timex of <sys/timex.h>, with room to spare at its end
        _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                    ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long), ("status", ctypes.c_int),
                    ("constant", ctypes.c_long), ("precision", ctypes.c_long), ("tolerance", ctypes.c_long),
                    ("time", Timeval), ("tick", ctypes.c_long), ("spare", ctypes.c_byte * 256)]

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        adjtimex = libc.adjtimex
    except (OSError, AttributeError) as exc:
        return None, f"adjtimex is not available here ({exc})"
    tx = Timex()  # modes 0: read only
    if adjtimex(ctypes.byref(tx)) < 0:
        return None, f"adjtimex failed ({os.strerror(ctypes.get_errno())})"
    return not tx.status & STA_UNSYNC, "the kernel's status, adjtimex"


def _iso(t_ns: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def clock_check(now_ns: int, synchronised: bool | None, how: str, newest_ns: int | None) -> Check:
    """The clock check from what was read: the kernel's sync state, and the newest wall time the
    database holds (sessions' starts and ends, events), None when it holds none."""
    ntp = ("enable time synchronisation: sudo timedatectl set-ntp true, with the hospital's NTP server as NTP= in "
           "/etc/systemd/timesyncd.conf (or chrony's server line)")
    if now_ns < CLOCK_FLOOR_NS:
        return failed("clock", f"the clock says {_iso(now_ns)}: before {_iso(CLOCK_FLOOR_NS)}, so wrong", ntp)
    if newest_ns is not None and newest_ns > now_ns:
        ahead_h = (newest_ns - now_ns) / 3.6e12
        return failed("clock", f"the clock says {_iso(now_ns)}, but the database holds {_iso(newest_ns)} ({ahead_h:.1f} h "
                               "later): the clock is behind, or was ahead when that was written",
                      f"{ntp}; sessions recorded while it was wrong carry wrong t_ns")
    if synchronised is None:
        return failed("clock", f"cannot tell whether the clock is synchronised: {how}", ntp)
    if not synchronised:
        return failed("clock", f"{_iso(now_ns)}, not synchronised ({how}): sessions would carry this clock's t_ns", ntp)
    return passed("clock", f"{_iso(now_ns)}, synchronised ({how})")


def _newest_recorded_ns(cfg) -> int | None:
    db = None if cfg is None else _existing_db(cfg)
    if db is None:
        return None
    newest = None
    try:
        conn = _connect(db)
        try:
            for sql in ("SELECT MAX(MAX(started_at_ns, COALESCE(ended_at_ns, 0))) FROM sessions",
                        "SELECT MAX(t_ns) FROM events"):
                try:
                    value = conn.execute(sql).fetchone()[0]
                except sqlite3.Error:  # no such table (a foreign file: the database check says so)
                    continue
                if value is not None:
                    newest = value if newest is None else max(newest, value)
        finally:
            conn.close()
    except sqlite3.Error:
        return None
    return newest


def check_clock(cfg, machine: Machine) -> Check:
    synchronised, how = kernel_clock_synchronised()
    return clock_check(machine.now(), synchronised, how, _newest_recorded_ns(cfg))


# -- broker, gpio, service --------------------------------------------------------------------------------

def check_broker(cfg, machine: Machine) -> Check:
    if not cfg["mqtt.enabled"]:
        return passed("broker", "not used: mqtt.enabled is false")
    from ..status.mqtt import Security, probe_broker

    security = Security.from_config(cfg)
    probe = probe_broker(cfg["mqtt.host"], cfg["mqtt.port"], security, f"{cfg['box.id']}-doctor-{os.getpid()}",
                         timeout_s=machine.timeout_s)
    if probe.ok:
        return passed("broker", probe.detail)
    fix = {
        "files": "correct the mqtt file named (mqtt.password_file, mqtt.tls_ca, mqtt.tls_cert, mqtt.tls_key): "
                 "readable by the agma user (docs/mqtt.md)",
        "unreachable": "check mqtt.host and mqtt.port, that the broker runs and that no firewall is in between "
                       "(docs/mqtt.md)",
        "timeout": "check mqtt.host and mqtt.port (a TLS port needs mqtt.tls_ca), and the network to the broker",
        "tls": "mqtt.port must be the broker's TLS listener (usually 8883), mqtt.tls_ca the CA that signed its "
               "certificate and mqtt.host a name that certificate carries (docs/mqtt.md)",
        "refused": "check mqtt.username and the password in mqtt.password_file against the broker's accounts "
                   "(mosquitto_passwd), and its ACL (docs/mqtt.md)",
    }.get(probe.kind, "docs/mqtt.md")
    return failed("broker", probe.detail, fix)


def check_gpio(cfg, machine: Machine) -> Check:
    if not cfg["button.enabled"]:
        return passed("gpio", "not used: button.enabled is false")
    from ..status.gpio import check_chip

    try:
        return passed("gpio", check_chip(cfg["button.chip"], cfg["button.line"], cfg["button.led_line"]))
    except AgmaError as exc:
        text = str(exc)
    if "not installed" in text or "libgpiod 1.x" in text:
        fix = "pip install 'agma-appliance[box]' into agma's venv (scripts/install.sh installs it)"
    elif "permission" in text:
        fix = "the agma user needs the gpio group (systemd/60-agma.rules, installed by scripts/install.sh)"
    elif "held by" in text or "in use" in text:
        fix = "stop the program holding the line (gpioinfo shows it), or choose other lines (docs/controls.md)"
    else:
        fix = "set button.chip to a chip gpiodetect lists (docs/controls.md), and button.line/button.led_line to its lines"
    return failed("gpio", text, fix)


def service_check(props: dict[str, str]) -> Check:
    """The service check from ``systemctl show`` 's LoadState, ActiveState, SubState, UnitFileState."""
    load, active, sub = props.get("LoadState", ""), props.get("ActiveState", ""), props.get("SubState", "")
    enabled = props.get("UnitFileState", "")
    if load != "loaded":
        return failed("service", f"{UNIT} is not installed (LoadState {load or 'unknown'})", f"{INSTALL} installs and enables it")
    state = f"{active} ({sub})" if sub else active
    if active == "failed":
        return failed("service", f"{UNIT} failed: {state}, {enabled or 'unknown'}",
                      "journalctl -u agma -b says why; fix that, then sudo systemctl reset-failed agma && sudo systemctl start agma")
    if enabled not in ("enabled", "enabled-runtime", "linked", "alias"):
        return failed("service", f"{UNIT} is {enabled or 'not enabled'} ({state}): it would not start at boot",
                      "sudo systemctl enable agma")
    note = "" if active in ("active", "activating", "reloading") else ": it starts at boot, or now with sudo systemctl start agma"
    return passed("service", f"{UNIT} {enabled}, {state}{note}")


def check_service(cfg, machine: Machine) -> Check:
    if not machine.systemd_dir.is_dir():
        return failed("service", f"systemd does not run this machine ({machine.systemd_dir} is missing): no {UNIT} to "
                                 "start agma daemon at boot", f"on the box: {INSTALL} installs and enables {UNIT}")
    systemctl = shutil.which(machine.systemctl)
    if systemctl is None:
        return failed("service", f"no {machine.systemctl} command here", f"on the box: {INSTALL}")
    try:
        proc = subprocess.run([systemctl, "show", UNIT, "-p", "LoadState", "-p", "ActiveState", "-p", "SubState",
                               "-p", "UnitFileState"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed("service", f"systemctl show {UNIT} did not answer ({exc})", "systemctl status agma")
    if proc.returncode != 0:
        return failed("service", f"systemctl show {UNIT}: {(proc.stderr or proc.stdout).strip() or f'exit {proc.returncode}'}",
                      "systemctl status agma")
    props = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return service_check(props)


CHECKS: dict[str, Callable[..., Check]] = {
    "state_dir": check_state_dir, "disk": check_disk, "database": check_database, "camera": check_camera,
    "calibration": check_calibration, "engine": check_engine, "cuda_kernels": check_cuda_kernels, "clock": check_clock,
    "broker": check_broker, "gpio": check_gpio, "service": check_service,
}
assert tuple(CHECKS) == NAMES[1:]
