"""A default simulated session lands on the paper's DarkPose32 figures (the calibration of the noise model).

Targets (issue "pose stage in simulation"): 3D mean error within ±30 % of 17.2 mm and 3DPCK@2.5cm
within ±10 points of 83.1 %, for a default 20 s session and any seed.
"""
from __future__ import annotations

import pytest

from tests.helpers import agma, last_json


@pytest.mark.parametrize("seed", [0, 11])
def test_default_session_matches_paper(tmp_path, seed):
    proc = agma("record", "--duration", "20", "--as-fast-as-possible", "--seed", str(seed),
                "--db", str(tmp_path / "c.sqlite"), "--json", env={"AGMA_SIM__RENDER": "false"})
    assert proc.returncode == 0, proc.stderr
    a = last_json(proc)["accuracy"]
    assert 17.2 * 0.7 <= a["mean_mm"] <= 17.2 * 1.3
    assert 83.1 - 10 <= a["pck_25mm"] <= 83.1 + 10
    for key in ("pck2d_05", "pck2d_10", "pck2d_20"):
        assert 0 <= a[key] <= 100
    assert set(a["per_group"]) == {"nose", "shoulders", "elbows", "wrists", "hips", "knees", "ankles"}
