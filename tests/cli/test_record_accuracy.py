"""`agma record --json` end to end: exact with zero noise, worse with noise, and the summary equals the rows."""
from __future__ import annotations

import sqlite3

import pytest

from tests.helpers import agma, last_json

# The summary's mean_mm recomputed by one SQL query over joints and ground_truth.
MEAN_SQL = """
SELECT AVG(sqrt((j.x_mm - g.x_mm) * (j.x_mm - g.x_mm) + (j.y_mm - g.y_mm) * (j.y_mm - g.y_mm)
                + (j.z_mm - g.z_mm) * (j.z_mm - g.z_mm)))
FROM joints AS j JOIN ground_truth AS g USING (session_id, frame_index, joint)
JOIN sessions AS s ON s.id = j.session_id
WHERE s.uid = ? AND j.invalid_reason IS NULL
"""


def _record(tmp_path, *extra, env=None):
    proc = agma("record", "--source", "synthetic", "--duration", "10", "--as-fast-as-possible",
                "--db", str(tmp_path / "a.sqlite"), "--json", *extra, env=env)
    assert proc.returncode == 0, proc.stderr
    return last_json(proc)


def test_zero_noise_is_exact_and_keys_present(tmp_path):
    """With --sim-noise-px 0 (and no misses) the pipeline adds no error of its own: mean 3D error <= 0.1 mm."""
    s = _record(tmp_path, "--sim-noise-px", "0", env={"AGMA_SIM__MISS_RATE": "0", "AGMA_SIM__RENDER": "false"})
    assert {"session_id", "frames", "fps", "dropped_frames", "valid_joint_ratio", "db", "accuracy"} <= set(s)
    assert s["frames"] == 300 and s["dropped_frames"] == 0 and s["end_reason"] == "duration"
    acc = s["accuracy"]
    assert {"mean_mm", "std_mm", "pck_10mm", "pck_25mm", "pck_50mm", "pck_100mm", "mean_2d_px"} <= set(acc)
    assert acc["mean_mm"] <= 0.1
    assert acc["pck_10mm"] == 100.0 and s["valid_joint_ratio"] == 1.0


def test_noise_makes_it_worse_and_sql_reproduces_mean(tmp_path):
    """2 px of independent 2D noise gives centimetre-scale 3D error; one SQL query over the rows gives the same mean."""
    env = {"AGMA_SIM__SHARED_FRACTION": "0", "AGMA_SIM__TAIL_FRACTION": "0", "AGMA_SIM__MISS_RATE": "0"}
    s = _record(tmp_path, "--sim-noise-px", "2", "--seed", "3", env=env)
    acc = s["accuracy"]
    assert acc["mean_mm"] > 5.0
    assert acc["mean_2d_px"] == pytest.approx(2.0 * 1.2533, rel=0.1)  # mean of a 2D Gaussian radius: σ·sqrt(π/2)
    with sqlite3.connect(s["db"]) as conn:
        (sql_mean,) = conn.execute(MEAN_SQL, (s["session_id"],)).fetchone()
    assert sql_mean == pytest.approx(acc["mean_mm"], rel=1e-9)


def test_json_is_the_last_line_and_logs_go_to_stderr(tmp_path):
    proc = agma("record", "--duration", "1", "--as-fast-as-possible", "--db", str(tmp_path / "b.sqlite"), "--json", "-v")
    assert proc.returncode == 0
    assert len(proc.stdout.strip().splitlines()) == 1
    assert last_json(proc)["frames"] == 30
