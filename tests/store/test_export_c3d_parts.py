"""A session longer than one C3D part is split: <stem>.part01.c3d, <stem>.part02.c3d, ... each read
back by both readers with its own frame count, starting at frame 1, its first frame_index in
AGMA:FIRST_FRAME_INDEX and in <stem>.t_ns.csv. (The real limit is 54,000 frames; a small part size
exercises the same code on a short session, the nightly test the real one.)"""
from __future__ import annotations

import csv

import numpy as np

from appliance.store.export import C3D_PART_FRAMES, c3d_part_paths, export_c3d, load_session
from appliance.store.listing import open_readonly
from tests.store.c3d_readers import read_both
from tests.store.recorded import export_fixture_db, joints_by_frame


def test_parts(tmp_path):
    db, uid = export_fixture_db(tmp_path)
    conn = open_readonly(db)
    data = load_session(conn, uid)
    conn.close()
    paths = export_c3d(data, tmp_path / "out" / "s.c3d", part_frames=25)  # 60 frames: 25 + 25 + 10
    assert [p.name for p in paths] == ["s.part01.c3d", "s.part02.c3d", "s.part03.c3d", "s.t_ns.csv"]
    by_frame = joints_by_frame(db, uid)
    for k, (path, n) in enumerate(zip(paths[:3], (25, 25, 10))):
        for c in read_both(path):
            assert c.points.shape == (n, 17, 3) and c.first_frame == 1, (c.reader, path.name)
            assert c.agma_first_frame_index == 25 * k
            fi = 25 * k + 4
            expected = np.array([r[1:4] for r in by_frame[fi]], dtype=float).astype(np.float32)
            np.testing.assert_array_equal(c.points[4], expected)
    with open(paths[3], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["part"], r["c3d_frame"]) for r in rows[24:27]] == [("1", "25"), ("2", "1"), ("2", "2")]


def test_part_names():
    assert c3d_part_paths("a/s.c3d", C3D_PART_FRAMES) == [__import__("pathlib").Path("a/s.c3d")]
    names = [p.name for p in c3d_part_paths("a/s.c3d", C3D_PART_FRAMES + 1)]
    assert names == ["s.part01.c3d", "s.part02.c3d"]
    assert [p.name for p in c3d_part_paths("a/s", 3 * C3D_PART_FRAMES)][-1] == "s.part03.c3d"
