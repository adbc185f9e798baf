"""C3D reads back in ezc3d and in the independent `c3d` package: one C3D frame per frame_index
(frame 1 = frame_index 0), 17 points labelled with the COCO names, mm, the session's rate, the
database's coordinates on sampled frames, and invalid joints and dropped frames marked invalid."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from appliance.joints import JOINT_NAMES
from appliance.store.export import export_session
from appliance.store.listing import open_readonly
from tests.store.c3d_readers import read_c3d_package, read_ezc3d
from tests.store.recorded import SKIPPED, export_fixture_db, joints_by_frame, sample_frames, session_rows


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("c3d")
    db, uid = export_fixture_db(tmp)
    conn = open_readonly(db)
    paths = export_session(conn, uid, "c3d", tmp / "s.c3d")
    conn.close()
    return db, uid, paths


def test_one_part_named_by_o_and_the_timestamps_beside_it(exported):
    _, _, paths = exported
    assert [p.name for p in paths] == ["s.c3d", "s.t_ns.csv"]


@pytest.mark.parametrize("read", [read_ezc3d, read_c3d_package], ids=["ezc3d", "c3d"])
def test_reads_back(exported, read):
    db, uid, paths = exported
    c = read(paths[0])
    assert c.labels == list(JOINT_NAMES) and c.rate == 30.0 and c.units == "mm" and c.first_frame == 1
    assert c.points.shape == (60, 17, 3)  # frame_index 0..59, gaps included
    assert c.agma_session_uid == uid and c.agma_first_frame_index == 0.0
    by_frame = joints_by_frame(db, uid)
    for fi in sample_frames(by_frame):
        expected = np.array([r[1:4] for r in by_frame[fi]], dtype=float).astype(np.float32)  # NULL -> NaN
        np.testing.assert_array_equal(c.points[fi], expected)
        invalid = [r[-1] is not None for r in by_frame[fi]]
        assert (c.residual[fi] == -1).tolist() == invalid
        assert (c.residual[fi][~np.array(invalid)] == 0).all()
    for fi in SKIPPED:  # dropped frames: every point invalid
        assert (c.residual[fi] == -1).all() and np.isnan(c.points[fi]).all()


def test_timestamps_file(exported):
    db, uid, paths = exported
    with open(paths[1], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 60 and [int(r["frame_index"]) for r in rows] == list(range(60))
    t = {r[1]: r[2] for r in session_rows(db, uid, "frames", "frame_index")}
    for r in rows:
        fi = int(r["frame_index"])
        assert (int(r["part"]), int(r["c3d_frame"])) == (1, fi + 1)
        assert r["t_ns"] == ("" if fi in SKIPPED else str(t[fi]))
