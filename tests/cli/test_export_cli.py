"""`agma export`: the three formats from the command line, the paths written on stdout."""
from __future__ import annotations

import numpy as np

from tests.helpers import agma, last_json
from tests.store.recorded import record


def test_export_formats(tmp_path):
    db = tmp_path / "box.sqlite"
    uid = record(db, n_frames=30)["session_id"]
    csv_paths = agma("export", uid, "--format", "csv", "-o", str(tmp_path / "s.csv"), "--db", str(db), check=True)
    assert csv_paths.stdout.split() == [str(tmp_path / "s.csv")]
    assert len((tmp_path / "s.csv").read_text().splitlines()) == 1 + 30 * 17
    wide = last_json(agma("export", uid, "--format", "csv", "--wide", "-o", str(tmp_path / "w.csv"), "--db", str(db),
                          "--json", check=True))
    assert wide["paths"] == [str(tmp_path / "w.csv")] and len((tmp_path / "w.csv").read_text().splitlines()) == 31
    c3d = last_json(agma("export", uid, "--format", "c3d", "-o", str(tmp_path / "s.c3d"), "--db", str(db), "--json",
                         check=True))
    assert c3d["paths"] == [str(tmp_path / "s.c3d"), str(tmp_path / "s.t_ns.csv")]
    npz = last_json(agma("export", uid, "--format", "npz", "-o", str(tmp_path / "s.npz"), "--db", str(db), "--json",
                         check=True))
    assert np.load(npz["paths"][0])["xyz_mm"].shape == (30, 17, 3)


def test_wide_only_with_csv(tmp_path):
    db = tmp_path / "box.sqlite"
    uid = record(db, n_frames=15)["session_id"]
    proc = agma("export", uid, "--format", "npz", "--wide", "-o", str(tmp_path / "s.npz"), "--db", str(db))
    assert proc.returncode == 2
