"""CSV --wide: one row per stored frame, <joint>_x_mm/_y_mm/_z_mm/_confidence columns in COCO order,
empty where the joint is invalid; sampled frames equal the database."""
from __future__ import annotations

import csv

from appliance.joints import JOINT_NAMES
from appliance.store.export import export_session
from appliance.store.listing import open_readonly
from tests.store.recorded import SKIPPED, export_fixture_db, joints_by_frame, sample_frames, session_rows


def test_wide(tmp_path):
    db, uid = export_fixture_db(tmp_path)
    conn = open_readonly(db)
    export_session(conn, uid, "csv", tmp_path / "w.csv", wide=True)
    conn.close()
    with open(tmp_path / "w.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    head, body = rows[0], rows[1:]
    assert head[:3] == ["frame_index", "t_ns", "valid_joints"] and len(head) == 3 + 17 * 4
    assert head[3:7] == ["nose_x_mm", "nose_y_mm", "nose_z_mm", "nose_confidence"]
    assert head[-1] == f"{JOINT_NAMES[-1]}_confidence"
    assert [int(r[0]) for r in body] == [i for i in range(60) if i not in SKIPPED]
    by_frame = joints_by_frame(db, uid)
    frames = {r[1]: r for r in session_rows(db, uid, "frames", "frame_index")}
    by_index = {int(r[0]): r for r in body}
    for fi in sample_frames(by_frame):
        r = by_index[fi]
        assert int(r[1]) == frames[fi][2] and int(r[2]) == frames[fi][3]
        for j, db_row in enumerate(by_frame[fi]):
            expected = [("" if v is None else v) for v in db_row[1:5]]  # x, y, z, confidence
            cells = r[3 + 4 * j: 7 + 4 * j]
            assert [float(c) if c else "" for c in cells] == expected, (fi, j)
