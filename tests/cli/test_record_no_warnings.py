"""`agma record` with a real (untrained) network prints no NumPy warning on stderr.

An untrained HRNet-W4 gives heatmaps without a positive maximum, joints at the crop's edge and
views that disagree: NaN positions and invalid joints on nearly every frame. That is a normal
state (missing is NaN plus a reason), so a nurse or a log reader must not see a page of
``RuntimeWarning: invalid value encountered in ...``: the warnings are run with Python's default
filters (a RuntimeWarning is printed once per place), as a user runs the command, and every NaN
joint must still carry its reason.
"""
from __future__ import annotations

import sqlite3

import pytest

from tests.helpers import agma, last_json


@pytest.fixture(scope="module")
def w4_onnx(fixtures_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("w4") / "w4.onnx"
    agma("engine", "export", "--checkpoint", str(fixtures_dir / "hrnet_w4_zip.pth"), "-o", str(out), check=True)
    return out


def test_untrained_model_records_quietly(w4_onnx, tmp_path):
    db = tmp_path / "w4.sqlite"
    proc = agma("record", "--model", f"onnx:{w4_onnx}", "--duration", "6", "--as-fast-as-possible",
                "--db", str(db), "--json", env={"PYTHONWARNINGS": "default::RuntimeWarning"})
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    summary = last_json(proc)
    assert summary["frames"] == 180 and summary["end_reason"] == "duration"
    with sqlite3.connect(db) as conn:
        rows, unexplained, invalid = conn.execute(
            "SELECT count(*), sum(x_mm IS NULL AND invalid_reason IS NULL), sum(invalid_reason IS NOT NULL) "
            "FROM joints").fetchone()
    assert rows == 180 * 17
    assert unexplained == 0  # every NaN joint says why
    assert invalid > 0  # the untrained network's joints are mostly invalid: the case this test is about
