"""Points a capture process's USB reset (appliance/capture/usb_reset.py) at a fake sysfs, /dev and /proc tree.

Used by tests/runtime/test_camera_usb_reset_event.py: a capture process is a fresh interpreter
(`python -m appliance.capture.child`) that the test cannot hand arguments to, so this folder goes
on its PYTHONPATH and Python imports this module at start-up. $TEST_USB_ROOTS is JSON
{"sysfs": ..., "dev": ..., "proc": ...}: the real rule, the real state file and the real ioctl
then run on those trees (the ioctl on a regular file, which the kernel refuses). Without the
variable it does nothing.
"""
import json
import os

_ROOTS = os.environ.get("TEST_USB_ROOTS")
if _ROOTS:
    from pathlib import Path

    from appliance.capture import usb_reset

    _r = json.loads(_ROOTS)
    usb_reset.SYSFS_USB, usb_reset.DEV_USB, usb_reset.PROC = Path(_r["sysfs"]), Path(_r["dev"]), Path(_r["proc"])
