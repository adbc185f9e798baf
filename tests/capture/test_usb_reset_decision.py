"""When a ZED that never came up after boot gets a USB reset (USBDEVFS_RESET), and that it gets at most one per 10 minutes.

Why: a ZED sometimes sits on the bus after a cold boot while the SDK cannot see it, until someone
replugs it; a reset re-enumerates it without a nurse. But a reset must not hit a camera that was
working (an unplug is not cured by resetting), nor one still enumerating, nor hammer the bus.
The rule is pure (appliance/capture/usb_reset.py ``decide``) and is tested case by case; the
device discovery reads a fake sysfs tree (real files in tmp_path, the layout of
/sys/bus/usb/devices), and ``after_absent`` runs the whole shell on fake /proc and /dev trees:
the ioctl really goes to the kernel, on a regular file, which refuses it (ENOTTY) — the failure
path is reported in one line and still counts as the attempt of these 10 minutes.
"""
from __future__ import annotations

import json

import pytest

from appliance.capture import usb_reset as U

BOOT = "9f1c1a8e-0000-4000-8000-000000000001"


def _device(root, name, vendor, product, bus, dev):
    d = root / name
    d.mkdir(parents=True)
    for f, v in (("idVendor", vendor), ("idProduct", product), ("busnum", str(bus)), ("devnum", str(dev))):
        (d / f).write_text(v + "\n", encoding="ascii")
    return d


@pytest.fixture
def sysfs(tmp_path):
    root = tmp_path / "sys" / "bus" / "usb" / "devices"
    _device(root, "usb1", "1d6b", "0003", 1, 1)  # a root hub
    _device(root, "1-2", "2b03", "f780", 1, 5)  # the ZED 2's video device
    (root / "1-2:1.0").mkdir()  # an interface: no idVendor
    _device(root, "1-2.1", "2B03", "f781", 1, 6)  # its sensors (upper-case hex, as some kernels print)
    _device(root, "2-1", "0bda", "8153", 2, 2)  # something else
    return root


def test_find_devices_reads_vendor_2b03_only(sysfs):
    found = U.find_devices(sysfs)
    assert [(d.name, d.busnum, d.devnum, d.product) for d in found] == [("1-2", 1, 5, "f780"), ("1-2.1", 1, 6, "f781")]
    assert str(found[0].node()) == "/dev/bus/usb/001/005"
    assert U.find_devices(sysfs.parent / "missing") == ()


def _decide(**kw):
    args = dict(state=U.ResetState(), boot_id=BOOT, uptime_s=120.0, now_wall_s=1_700_000_000.0,
                devices=(U.UsbDevice("1-2", 1, 5, "f780"),), after_s=30.0)
    args.update(kw)
    return U.decide(**args)


def test_the_rule_case_by_case():
    assert _decide().reset is True and "1-2 (2b03:f780)" in _decide().reason
    assert "off" in _decide(after_s=0).reason and not _decide(after_s=0).reset
    assert not _decide(devices=()).reset and "unplugged" in _decide(devices=()).reason
    assert not _decide(uptime_s=20.0).reset and "still be enumerating" in _decide(uptime_s=20.0).reason
    opened = U.ResetState(opened_boot_id=BOOT)
    assert not _decide(state=opened).reset and "opened since boot" in _decide(state=opened).reason
    assert _decide(state=U.ResetState(opened_boot_id="an-earlier-boot")).reset  # opened in another boot only


def test_at_most_one_reset_per_ten_minutes():
    this_boot = U.ResetState(reset_boot_id=BOOT, reset_uptime_s=100.0, reset_wall_s=1_700_000_000.0)
    assert not _decide(state=this_boot, uptime_s=100.0 + 599).reset
    assert _decide(state=this_boot, uptime_s=100.0 + 601).reset
    # within one boot the uptime decides, whatever the wall clock did (a Jetson without RTC battery)
    assert not _decide(state=this_boot, uptime_s=300.0, now_wall_s=1_800_000_000.0).reset
    before_reboot = U.ResetState(reset_boot_id="an-earlier-boot", reset_uptime_s=5000.0, reset_wall_s=1_700_000_000.0)
    assert not _decide(state=before_reboot, now_wall_s=1_700_000_000.0 + 300).reset
    assert _decide(state=before_reboot, now_wall_s=1_700_000_000.0 + 700).reset
    assert _decide(state=before_reboot, now_wall_s=1_000.0).reset  # the clock went back: no wall-clock claim


def _proc(tmp_path, uptime_s):
    proc = tmp_path / "proc"
    (proc / "sys" / "kernel" / "random").mkdir(parents=True, exist_ok=True)
    (proc / "sys" / "kernel" / "random" / "boot_id").write_text(BOOT + "\n", encoding="ascii")
    (proc / "uptime").write_text(f"{uptime_s:.2f} 1234.00\n", encoding="ascii")
    return proc


def test_after_absent_resets_once_then_waits(sysfs, tmp_path):
    dev_root = tmp_path / "dev" / "bus" / "usb"
    for node in ("001/005", "001/006"):  # regular files: the kernel refuses the ioctl (ENOTTY)
        (dev_root / node).parent.mkdir(parents=True, exist_ok=True)
        (dev_root / node).write_bytes(b"")
    state = tmp_path / "state" / U.STATE_FILE
    kw = dict(sysfs_root=sysfs, dev_root=dev_root, now_wall_s=1_700_000_000.0)
    assert U.after_absent(state, 30.0, proc_root=_proc(tmp_path, 10.0), **kw) is None  # too soon after boot
    assert not state.exists()
    line = U.after_absent(state, 30.0, proc_root=_proc(tmp_path, 95.0), **kw)
    assert line is not None and line.startswith("USB reset failed (")
    assert str(dev_root / "001" / "005") in line and str(dev_root / "001" / "006") in line and "udev" in line
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert saved["reset_boot_id"] == BOOT and saved["reset_uptime_s"] == pytest.approx(95.0)
    # another capture process, 5 minutes later: remembered, no second attempt
    assert U.after_absent(state, 30.0, proc_root=_proc(tmp_path, 395.0), **kw) is None
    assert U.after_absent(state, 30.0, proc_root=_proc(tmp_path, 700.0), **kw) is not None  # 10 minutes on


def test_an_opened_camera_is_never_reset_in_that_boot(sysfs, tmp_path):
    state = tmp_path / "state" / U.STATE_FILE
    proc = _proc(tmp_path, 500.0)
    U.note_opened(state, proc_root=proc)
    assert U.ResetState.load(state).opened_boot_id == BOOT
    assert U.after_absent(state, 30.0, sysfs_root=sysfs, dev_root=tmp_path / "dev", proc_root=proc) is None


def test_no_reset_without_a_state_file_to_remember_it(sysfs, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="ascii")
    line = U.after_absent(blocker / U.STATE_FILE, 30.0, sysfs_root=sysfs, dev_root=tmp_path / "dev",
                          proc_root=_proc(tmp_path, 500.0))
    assert line is not None and line.startswith("no USB reset: cannot record it in ")


def test_the_ioctl_number_is_usbdevfs_reset():
    assert U.USBDEVFS_RESET == 0x5514  # _IO('U', 20) of linux/usbdevice_fs.h
