"""CSV, tidy long layout: one row per stored frame and joint, joints by name, NULL as an empty field,
numbers that read back to exactly the stored values (sampled frames against the database)."""
from __future__ import annotations

import csv

import pytest

from appliance.joints import JOINT_NAMES
from appliance.store.export import LONG_COLUMNS, export_session
from appliance.store.listing import open_readonly
from tests.store.recorded import SKIPPED, export_fixture_db, joints_by_frame, sample_frames, session_rows


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("csvlong")
    db, uid = export_fixture_db(tmp)
    conn = open_readonly(db)
    paths = export_session(conn, uid, "csv", tmp / "s.csv")
    conn.close()
    with open(paths[0], newline="") as fh:
        rows = list(csv.reader(fh))
    return db, uid, paths, rows


def test_layout(exported):
    _, _, paths, rows = exported
    assert len(paths) == 1 and rows[0] == list(LONG_COLUMNS)
    body = rows[1:]
    assert len(body) == 17 * (60 - len(SKIPPED))
    assert [r[2] for r in body[:17]] == list(JOINT_NAMES)
    assert {int(r[0]) for r in body}.isdisjoint(SKIPPED)


def test_sampled_frames_equal_the_database(exported):
    db, uid, _, rows = exported
    by_frame = joints_by_frame(db, uid)
    t_ns = {r[1]: r[2] for r in session_rows(db, uid, "frames", "frame_index")}
    csv_by_frame: dict[int, list[list[str]]] = {}
    for r in rows[1:]:
        csv_by_frame.setdefault(int(r[0]), []).append(r)
    for fi in sample_frames(by_frame):
        for j, (db_row, c) in enumerate(zip(by_frame[fi], csv_by_frame[fi])):
            assert int(c[1]) == t_ns[fi] and c[2] == JOINT_NAMES[j]
            expected = [("" if v is None else v) for v in db_row[1:]]  # x_mm ... invalid_reason
            got = [c[3 + k] if k == len(expected) - 1 else (float(c[3 + k]) if c[3 + k] else "")
                   for k in range(len(expected))]
            assert got == expected, (fi, j)
