"""A written replay of a synthetic session replays through `agma record --model simulated` to the same accuracy.

The replay carries real video (FFV1), its calibration as a .conf and the ground truth per frame;
replayed with the same seed, the simulated model draws the same errors per (seed, frame_index),
so the two sessions' accuracy must agree to 0.5 mm (the issue's bound).
"""
from __future__ import annotations

import sqlite3

import numpy as np

from tests.helpers import agma, last_json


def test_replay_reproduces_the_original_session(tmp_path):
    replay = tmp_path / "replay"
    first = agma("record", "--duration", "2", "--as-fast-as-possible", "--seed", "4", "--db", str(tmp_path / "a.sqlite"),
                 "--write-replay", str(replay), "--json")
    assert first.returncode == 0, first.stderr
    assert (replay / "replay.json").is_file()
    second = agma("record", "--replay", str(replay), "--as-fast-as-possible", "--seed", "4",
                  "--db", str(tmp_path / "b.sqlite"), "--json")
    assert second.returncode == 0, second.stderr
    a, b = last_json(first), last_json(second)
    assert b["frames"] == a["frames"] == 60
    assert abs(a["accuracy"]["mean_mm"] - b["accuracy"]["mean_mm"]) <= 0.5
    with sqlite3.connect(b["db"]) as conn:
        source, cal_source, sha = conn.execute(
            "SELECT s.source, c.source, c.file_sha256 FROM sessions s JOIN calibrations c ON c.id = s.calibration_id").fetchone()
        t_b = [r[0] for r in conn.execute("SELECT t_ns FROM frames ORDER BY frame_index")]
    with sqlite3.connect(a["db"]) as conn:
        t_a = [r[0] for r in conn.execute("SELECT t_ns FROM frames ORDER BY frame_index")]
    assert source == "replay" and sha is not None and len(sha) == 64
    assert np.array_equal(t_a, t_b)  # the recorded capture times are kept


def test_replay_without_folder_is_a_config_error(tmp_path):
    proc = agma("record", "--source", "replay", "--db", str(tmp_path / "x.sqlite"))
    assert proc.returncode == 78 and "capture.replay_dir" in proc.stderr


def test_simulated_model_refuses_a_source_without_truth(tmp_path):
    """A plain side-by-side video has no ground truth: --model simulated cannot run on it."""
    import cv2

    from appliance.capture.replay import rectified_conf_text
    from appliance.capture.synthetic import SIMULATED_ZED2_HD720

    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "SN1234.conf").write_text(rectified_conf_text(SIMULATED_ZED2_HD720))
    w = cv2.VideoWriter(str(folder / "video.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (2560, 720))
    for _ in range(3):
        w.write(np.full((720, 2560, 3), 128, np.uint8))
    w.release()
    proc = agma("record", "--replay", str(folder), "--db", str(tmp_path / "y.sqlite"))
    assert proc.returncode == 78, proc.stderr
    assert "pose.model" in proc.stderr and "ground truth" in proc.stderr
