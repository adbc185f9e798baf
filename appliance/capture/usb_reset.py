"""USB re-enumeration of a ZED that stays absent after boot: USBDEVFS_RESET on its /dev/bus/usb node.

Why: after a cold boot a ZED sometimes sits on the bus (its USB device, vendor id 2b03, is in
sysfs) while the SDK reports CAMERA_NOT_DETECTED until someone replugs it. Resetting the device
makes the kernel enumerate it again, which is what a replug does, without a nurse touching the cable.

The rule (``decide``, pure, unit-tested with a fake sysfs tree): reset when the zed source finds
the camera absent at open, and

- ``capture.usb_reset_after_s`` is not 0 (0: never reset);
- a device of vendor 2b03 is on the bus (``/sys/bus/usb/devices/*/idVendor``): with none, the
  cable is out and a reset cannot help;
- the camera has not been opened since boot (``/proc/sys/kernel/random/boot_id``): a reset is for
  a ZED that never came up, not for one that was unplugged later;
- more than ``capture.usb_reset_after_s`` seconds have passed since boot (``/proc/uptime``): a
  device still enumerating is left alone;
- no reset in the last 10 minutes (within one boot by uptime, which no clock change moves;
  across boots by the wall clock, when it has not gone back).

The state (opened this boot, the last reset) is a small JSON file in the box's state directory,
``<state>/zed-usb.json``, because each capture process is new (capture.process) and the rule
spans them. Without a writable state file there is no reset: the once-per-10-minutes promise
could not be kept.

The reset (``reset``) is the thin shell: ``fcntl.ioctl(fd, USBDEVFS_RESET, 0)`` on
``/dev/bus/usb/BBB/DDD`` opened for writing, which needs root or a udev rule giving the box's
user write access to the 2b03 nodes. Every 2b03 device found is reset (a ZED 2 shows as its
video device and its sensors device); the attempt is remembered even when it fails, so a box
without the permission tries once per 10 minutes, not at every open.

``python -m appliance.capture.usb_reset`` lists the 2b03 devices as JSON; ``--reset-now`` resets
them at once, outside the rule (scripts/acceptance-zed.sh uses it to exercise the ioctl on the box).
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

log = logging.getLogger(__name__)

#: Stereolabs' USB vendor id (sysfs idVendor, lower-case hex).
ZED_VENDOR = "2b03"
#: _IO('U', 20) from linux/usbdevice_fs.h: no data, type 'U', number 20.
USBDEVFS_RESET = (ord("U") << 8) | 20
#: At most one reset per this many seconds.
MIN_INTERVAL_S = 600.0
SYSFS_USB = Path("/sys/bus/usb/devices")
DEV_USB = Path("/dev/bus/usb")
PROC = Path("/proc")
STATE_FILE = "zed-usb.json"


@dataclass(frozen=True)
class UsbDevice:
    """One USB device from sysfs: its sysfs name (``1-2.3``), bus and device numbers, product id."""

    name: str
    busnum: int
    devnum: int
    product: str

    def node(self, dev_root: Path = DEV_USB) -> Path:
        """``/dev/bus/usb/BBB/DDD``: the node the reset ioctl goes to."""
        return Path(dev_root) / f"{self.busnum:03d}" / f"{self.devnum:03d}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None


def find_devices(sysfs_root: Path = SYSFS_USB, vendor: str = ZED_VENDOR) -> tuple[UsbDevice, ...]:
    """The USB devices of ``vendor`` in ``sysfs_root`` (interfaces such as ``1-2:1.0`` have no idVendor)."""
    found = []
    try:
        entries = sorted(Path(sysfs_root).iterdir())
    except OSError:
        return ()
    for d in entries:
        vid = _read(d / "idVendor")
        if vid is None or vid.lower() != vendor:
            continue
        bus, dev = _read(d / "busnum"), _read(d / "devnum")
        if not (bus and dev and bus.isdigit() and dev.isdigit()):
            continue
        found.append(UsbDevice(d.name, int(bus), int(dev), (_read(d / "idProduct") or "").lower()))
    return tuple(found)


@dataclass(frozen=True)
class ResetState:
    """What the rule remembers across capture processes (``<state>/zed-usb.json``)."""

    #: boot_id of the boot in which the camera was last opened ("" : never).
    opened_boot_id: str = ""
    #: the last reset: the boot it happened in, seconds since that boot, seconds since the epoch.
    reset_boot_id: str = ""
    reset_uptime_s: float | None = None
    reset_wall_s: float | None = None

    @classmethod
    def load(cls, path: Path) -> ResetState:
        """The saved state; the empty state when the file is missing or unreadable."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        """Atomic write (a temporary file renamed over the old one); OSError when it cannot."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(asdict(self), f)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


@dataclass(frozen=True)
class Decision:
    reset: bool
    reason: str
    devices: tuple[UsbDevice, ...] = ()


def decide(*, state: ResetState, boot_id: str, uptime_s: float, now_wall_s: float,
           devices: tuple[UsbDevice, ...], after_s: float, min_interval_s: float = MIN_INTERVAL_S) -> Decision:
    """Whether to reset the ZED's USB devices now (see the module's doc); pure."""
    if after_s <= 0:
        return Decision(False, "USB reset off (capture.usb_reset_after_s = 0)")
    if not devices:
        return Decision(False, f"no USB device of vendor {ZED_VENDOR} on the bus (unplugged?): a reset cannot help")
    if state.opened_boot_id and state.opened_boot_id == boot_id:
        return Decision(False, "the camera was opened since boot: a USB reset is only for one that never came up")
    if uptime_s < after_s:
        return Decision(False, f"{uptime_s:.0f} s since boot, under {after_s:g} s: the camera may still be enumerating")
    if state.reset_uptime_s is not None and state.reset_boot_id == boot_id:
        age = uptime_s - state.reset_uptime_s
        if age < min_interval_s:
            return Decision(False, f"USB reset {age:.0f} s ago: at most one per {min_interval_s / 60:g} minutes")
    elif state.reset_wall_s is not None and 0 <= now_wall_s - state.reset_wall_s < min_interval_s:
        age = now_wall_s - state.reset_wall_s  # another boot: the wall clock, unless it went back
        return Decision(False, f"USB reset {age:.0f} s ago (before a reboot): at most one per {min_interval_s / 60:g} minutes")
    names = ", ".join(f"{d.name} ({ZED_VENDOR}:{d.product or '?'})" for d in devices)
    return Decision(True, f"absent for {uptime_s:.0f} s since boot with {names} on the bus", devices)


def reset(device: UsbDevice, dev_root: Path = DEV_USB) -> None:
    """USBDEVFS_RESET on the device's node: the kernel re-enumerates it. OSError when it cannot."""
    import fcntl

    fd = os.open(device.node(dev_root), os.O_WRONLY)
    try:
        fcntl.ioctl(fd, USBDEVFS_RESET, 0)
    finally:
        os.close(fd)


def boot_id(proc_root: Path = PROC) -> str:
    return _read(Path(proc_root) / "sys" / "kernel" / "random" / "boot_id") or ""


def uptime_s(proc_root: Path = PROC) -> float:
    text = _read(Path(proc_root) / "uptime") or ""
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return 0.0


def state_path(state_dir: str | Path | None = None) -> Path:
    """``<state>/zed-usb.json`` (state: the box's state directory, capture/zed_calibration.py)."""
    from .zed_calibration import resolve_state_dir

    return resolve_state_dir(state_dir) / STATE_FILE


def note_opened(path: Path, proc_root: Path | None = None) -> None:
    """The camera opened: no reset for the rest of this boot. Never raises (a warning when unwritable)."""
    state, bid = ResetState.load(path), boot_id(PROC if proc_root is None else proc_root)
    if state.opened_boot_id == bid:
        return
    try:
        replace(state, opened_boot_id=bid).save(path)
    except OSError as exc:
        log.warning("cannot record the camera's open in %s (%s)", path, exc.strerror or exc)


def after_absent(path: Path, after_s: float, *, sysfs_root: Path | None = None, dev_root: Path | None = None,
                 proc_root: Path | None = None, now_wall_s: float | None = None) -> str | None:
    """Called where the zed source finds the camera absent at open: apply the rule, reset, remember.

    The roots default to SYSFS_USB, DEV_USB and PROC as they are at the call. Returns a line saying
    what was done (the source adds it to its "absent" message and carries it as ZedAbsent.usb_reset:
    the runtime's ``camera_usb_reset`` event), or None when the rule said no. Never raises.
    """
    sysfs_root = SYSFS_USB if sysfs_root is None else sysfs_root
    dev_root = DEV_USB if dev_root is None else dev_root
    proc_root = PROC if proc_root is None else proc_root
    state, bid = ResetState.load(path), boot_id(proc_root)
    up = uptime_s(proc_root)
    now = time.time() if now_wall_s is None else now_wall_s
    d = decide(state=state, boot_id=bid, uptime_s=up, now_wall_s=now,
               devices=find_devices(sysfs_root), after_s=after_s)
    if not d.reset:
        log.debug("no USB reset: %s", d.reason)
        return None
    try:  # remembered before the ioctl: a failed or fatal attempt also counts
        replace(state, reset_boot_id=bid, reset_uptime_s=up, reset_wall_s=now).save(path)
    except OSError as exc:
        return f"no USB reset: cannot record it in {path} ({exc.strerror or exc})"
    failed = []
    for dev in d.devices:
        try:
            reset(dev, dev_root)
        except OSError as exc:
            failed.append(f"{dev.node(dev_root)}: {exc.strerror or exc}")
    if failed:
        line = (f"USB reset failed ({'; '.join(failed)}; it needs root or a udev rule giving write access "
                f"to the {ZED_VENDOR} nodes); next try in {MIN_INTERVAL_S / 60:g} minutes at the earliest")
    else:
        line = f"USB reset of {', '.join(str(dev.node(dev_root)) for dev in d.devices)} ({d.reason})"
    log.warning("%s", line)
    return line


def main(argv: list[str] | None = None) -> int:
    """``python -m appliance.capture.usb_reset [--reset-now]``: the 2b03 devices as one JSON line."""
    args = sys.argv[1:] if argv is None else argv
    devices = find_devices()
    doc: dict = {"vendor": ZED_VENDOR, "devices": [{**asdict(d), "node": str(d.node())} for d in devices]}
    if "--reset-now" in args:
        if not devices:
            print(f"usb_reset: no USB device of vendor {ZED_VENDOR} on the bus", file=sys.stderr)
            return 1
        errors = []
        for d in devices:
            try:
                reset(d)
            except OSError as exc:
                errors.append(f"{d.node()}: {exc.strerror or exc}")
        doc["reset"] = not errors
        if errors:
            print(f"usb_reset: {'; '.join(errors)}", file=sys.stderr)
        print(json.dumps(doc))
        return 1 if errors else 0
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
