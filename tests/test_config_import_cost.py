"""Importing the config stays cheap: no NumPy, OpenCV or ONNX Runtime behind it.

Every command imports appliance.config at start (``agma --help``, ``agma config check``), and
the config now takes choices and defaults from the owning modules (appliance.capture,
appliance.pose.decoders, appliance.stereo.reasons): those must stay free of heavy imports, or
each command would pay NumPy's and OpenCV's import time before doing anything.
"""
from __future__ import annotations

import sys

from tests.helpers import clean_env, run

HEAVY = ("numpy", "cv2", "onnx", "onnxruntime", "sqlite_utils")


def test_config_imports_nothing_heavy():
    code = ("import sys, appliance.config; "
            f"print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})))")
    proc = run([sys.executable, "-c", code], env=clean_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ""
