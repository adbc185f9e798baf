"""A live (paced) synthetic session delivers 30·D frames at about 30 fps."""
from __future__ import annotations

from tests.helpers import agma, last_json


def test_paced_session_runs_at_camera_rate(tmp_path):
    proc = agma("record", "--duration", "2", "--db", str(tmp_path / "p.sqlite"), "--json")
    assert proc.returncode == 0, proc.stderr
    s = last_json(proc)
    assert s["frames"] + s["dropped_frames"] == 60
    assert s["dropped_frames"] == 0
    assert 20 < s["fps"] < 40  # paced by the source, not as fast as possible


def test_simulated_model_needs_ground_truth_source_message(tmp_path):
    """A bad model spec is a configuration error: exit 78, one line naming the key."""
    proc = agma("record", "--duration", "1", "--model", "bogus", "--db", str(tmp_path / "x.sqlite"))
    assert proc.returncode == 78
    assert "pose.model" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.sqlite").exists()
