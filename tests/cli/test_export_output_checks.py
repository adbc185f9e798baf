"""`agma export` checks -o against --format before reading anything: one line, exit 2, no file.

Wave 1 wrote a C3D file named x.csv without a word (the next tool then reads binary as text),
let np.savez add .npz to a name without it (so the printed path did not exist), and printed a
traceback for -o naming a folder.
"""
from __future__ import annotations

import pytest

from tests.helpers import agma
from tests.store.recorded import record


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "box.sqlite"
    return db, record(db, n_frames=15)["session_id"]


@pytest.mark.parametrize("fmt, name, expected", [
    ("c3d", "x.csv", "--format c3d writes a .c3d file; -o {o} ends in .csv (e.g. -o {d}/x.c3d)"),
    ("csv", "x.npz", "--format csv writes a .csv file; -o {o} ends in .npz (e.g. -o {d}/x.csv)"),
    ("npz", "x", "--format npz writes a .npz file; -o {o} has no extension (e.g. -o {d}/x.npz)"),
])
def test_mismatching_extension_is_refused(tmp_path, recorded, fmt, name, expected):
    db, uid = recorded
    out = tmp_path / name
    proc = agma("export", uid, "--format", fmt, "-o", str(out), "--db", str(db), "--json")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == ["agma export: " + expected.format(o=out, d=tmp_path)]
    assert list(tmp_path.iterdir()) == []


def test_folder_is_refused_with_one_line(tmp_path, recorded):
    db, uid = recorded
    proc = agma("export", uid, "--format", "csv", "-o", str(tmp_path), "--db", str(db))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"agma export: -o names the output file; {tmp_path} is a folder (e.g. -o {tmp_path / 'session.csv'})"]
    assert list(tmp_path.iterdir()) == []


def test_extension_case_does_not_matter(tmp_path, recorded):
    db, uid = recorded
    proc = agma("export", uid, "--format", "c3d", "-o", str(tmp_path / "S.C3D"), "--db", str(db), check=True)
    assert proc.stdout.split()[0] == str(tmp_path / "S.C3D") and (tmp_path / "S.C3D").stat().st_size > 0
