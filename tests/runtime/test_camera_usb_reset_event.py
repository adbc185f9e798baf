"""A USB reset of a ZED absent since boot is one ``camera_usb_reset`` events row, its detail the reset's own line.

Why: the reset (capture/usb_reset.py) is the box touching hardware by itself; a researcher or the
monitoring desk must see that it happened, and whether it failed (no permission), as a row, not
only inside a log line. The fact travels as data: ZedAbsent.usb_reset in-process, the capture
process's ``{"absent": ..., "usb_reset": ...}`` answer, CaptureAbsent.usb_reset in the box,
machine.CameraAbsent.usb_reset, then the row (session_id NULL unless a session is open).

What runs is real: the zed source against the stand-in pyzed (tests/capture/fake_pyzed) whose
open() says CAMERA_NOT_DETECTED, the real rule, state file and USBDEVFS_RESET ioctl on a fake
sysfs, /dev and /proc tree (as tests/capture/test_usb_reset_decision.py: the ioctl goes to the
kernel on a regular file, which refuses it with ENOTTY, so the line is the "failed" one), the real
capture process (its usb_reset module pointed at the same trees by tests/runtime/usb_roots), the
real Box and SQLite store. The fake /proc says 95 s since boot, which never moves: the first open
resets, every later one is inside the 10 minutes, so exactly one row however many opens follow.
Both ways the box holds the camera (capture.process true and false) are run.
"""
from __future__ import annotations

import errno
import importlib
import json
import os
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from appliance import config
from appliance.capture import usb_reset
from appliance.capture.synthetic import SyntheticSource
from appliance.errors import AgmaError
from appliance.pose.stage import build
from appliance.runtime import machine as m
from appliance.runtime.box import Box, BoxOptions
from appliance.runtime.camera_process import CaptureAbsent, ProcessSource
from appliance.runtime.factories import source_opener
from tests.helpers import DEADLINE_S, wait_until

HERE = Path(__file__).resolve().parent
FAKE_PYZED = HERE.parent / "capture" / "fake_pyzed"
USB_ROOTS = HERE / "usb_roots"
BOOT = "9f1c1a8e-0000-4000-8000-000000000002"


@pytest.fixture
def absent_zed(tmp_path, monkeypatch):
    """A ZED on the bus (2b03:f780 at 001/005) that the SDK cannot see, 95 s after boot; -> the expected line."""
    sysfs, dev, proc = tmp_path / "sys", tmp_path / "dev", tmp_path / "proc"
    d = sysfs / "1-2"
    d.mkdir(parents=True)
    for f, v in (("idVendor", "2b03"), ("idProduct", "f780"), ("busnum", "1"), ("devnum", "5")):
        (d / f).write_text(v + "\n", encoding="ascii")
    node = dev / "001" / "005"
    node.parent.mkdir(parents=True)
    node.write_bytes(b"")  # a regular file: the kernel refuses USBDEVFS_RESET on it (ENOTTY)
    (proc / "sys" / "kernel" / "random").mkdir(parents=True)
    (proc / "sys" / "kernel" / "random" / "boot_id").write_text(BOOT + "\n", encoding="ascii")
    (proc / "uptime").write_text("95.00 180.00\n", encoding="ascii")
    # this process's zed source (capture.process false) and every capture process use these trees
    monkeypatch.setattr(usb_reset, "SYSFS_USB", sysfs)
    monkeypatch.setattr(usb_reset, "DEV_USB", dev)
    monkeypatch.setattr(usb_reset, "PROC", proc)
    monkeypatch.setenv("TEST_USB_ROOTS", json.dumps({"sysfs": str(sysfs), "dev": str(dev), "proc": str(proc)}))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(FAKE_PYZED), str(USB_ROOTS)]))
    monkeypatch.setenv("FAKE_PYZED_SCRIPT", json.dumps({"open": "CAMERA_NOT_DETECTED"}))
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "state"))
    for name in ("pyzed.sl", "pyzed"):  # the stand-in as this process's pyzed.sl, gone afterwards
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(FAKE_PYZED))
    importlib.import_module("pyzed.sl").reset()
    yield (f"USB reset failed ({node}: {os.strerror(errno.ENOTTY)}; it needs root or a udev rule giving write "
           f"access to the 2b03 nodes); next try in 10 minutes at the earliest")
    for name in ("pyzed.sl", "pyzed"):
        sys.modules.pop(name, None)


def _cfg(tmp_path, process: bool):
    return config.load(None, {"store.db": (str(tmp_path / "box.sqlite"), "test"), "capture.source": ("zed", "test"),
                              "capture.resolution": ("VGA", "test"), "capture.process": (process, "test"),
                              "capture.usb_reset_after_s": (30.0, "test"), "store.dump_dir": ("off", "test"),
                              "store.min_free_mb": (0.0, "test"), "store.commit_interval_s": (0.1, "test")},
                       environ={})


def _events(db: Path) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT session_id, kind, detail FROM events ORDER BY id").fetchall()
    finally:
        conn.close()


def test_the_capture_process_answers_the_reset_as_a_field(absent_zed, tmp_path):
    cfg = _cfg(tmp_path, process=True)
    with pytest.raises(CaptureAbsent) as first:
        ProcessSource(cfg, live=True, t_origin_ns=0)
    assert first.value.usb_reset == absent_zed
    assert str(first.value) == f"no ZED camera detected (CAMERA NOT DETECTED); {absent_zed}"
    saved = json.loads((tmp_path / "state" / usb_reset.STATE_FILE).read_text(encoding="utf-8"))
    assert (saved["reset_boot_id"], saved["reset_uptime_s"]) == (BOOT, 95.0)
    with pytest.raises(CaptureAbsent) as second:  # the next capture process: inside the 10 minutes
        ProcessSource(cfg, live=True, t_origin_ns=0)
    assert second.value.usb_reset is None and str(second.value) == "no ZED camera detected (CAMERA NOT DETECTED)"


@pytest.mark.parametrize("process", [True, False], ids=["capture-process", "in-process"])
def test_a_box_opening_without_its_zed_stores_the_reset(absent_zed, tmp_path, process):
    """The box opens its source once at start and stops when the camera is absent; the reset it
    caused is stored all the same, and the next start (inside the 10 minutes) adds no row."""
    cfg = _cfg(tmp_path, process)
    for _ in range(2):
        box = Box(cfg, BoxOptions(live=True), source_opener(cfg, live=True), lambda info: build(cfg, info))
        with pytest.raises(AgmaError, match="no ZED camera detected"):
            box.open()
    assert _events(tmp_path / "box.sqlite") == [(None, "camera_usb_reset", absent_zed)]


class _UnpluggableCamera(SyntheticSource):
    """The synthetic camera until ``unplug`` is set; its frames then end and the box reopens its source."""

    restartable = True

    def __init__(self, unplug: threading.Event) -> None:
        super().__init__(render=False)
        self.unplug = unplug

    def frames(self):
        for frame in super().frames():
            if self.unplug.is_set():
                return
            yield frame


@pytest.mark.parametrize("process", [True, False], ids=["capture-process", "in-process"])
def test_the_capture_loop_stores_one_reset_in_the_open_session(absent_zed, tmp_path, process):
    """A running box whose camera goes and whose reopening finds the ZED absent: the reset is one
    row of the open session, after its camera_lost, however many reopenings follow."""
    cfg = _cfg(tmp_path, process)
    unplug = threading.Event()
    zed = source_opener(cfg, live=True)
    opens = []

    def opener():
        opens.append(1)
        return _UnpluggableCamera(unplug) if len(opens) == 1 else zed()

    box = Box(cfg, BoxOptions(live=True), opener, lambda info: build(cfg, info))
    box.open()
    loop = threading.Thread(target=box.run, name="test-control-loop")
    try:
        loop.start()
        wait_until(lambda: box.health().ready, "the box ready")
        assert box.request("start", "socket")["ok"]
        wait_until(lambda: box.health().frames > 0, "frames recorded")
        unplug.set()
        # three reopenings of the absent ZED done (1, 2 and 4 s of backoff): the fifth open has begun
        wait_until(lambda: len(opens) >= 5 and box.health().camera == "absent", "the ZED reopened three times")
        assert box.request("stop", "socket")["ok"]
    finally:
        unplug.set()
        box.post(m.Shutdown("test"))
        loop.join(DEADLINE_S)
        assert box.close() == []
    rows = _events(tmp_path / "box.sqlite")
    [(sid,)] = {(s,) for s, k, _ in rows if k == "session_started"}
    assert [r for r in rows if r[1] == "camera_usb_reset"] == [(sid, "camera_usb_reset", absent_zed)]
    kinds = [k for s, k, _ in rows if s == sid]
    assert kinds == ["session_started", "camera_lost", "camera_usb_reset", "session_ended"]
