"""`agma record --db <a folder>` is one line and exit 1, and leaves no `<folder>.lock` behind.

Wave 1 took the write lock first (creating `<folder>.lock` beside it) and then failed to open
the folder as a database, with a traceback. The writer now refuses a path that is not a file
before it takes the lock; with --json the failure is the last line of stdout too.
"""
from __future__ import annotations

from tests.helpers import agma, last_json


def test_a_folder_given_as_the_database(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    proc = agma("record", "--db", str(folder), "--duration", "1", "--as-fast-as-possible", "--json")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"agma record: {folder} is a folder, not a database file: name a file in it (e.g. {folder / 'agma.sqlite'})"]
    assert last_json(proc)["ok"] is False
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no data.lock, no data.reserve
    assert list(folder.iterdir()) == []
