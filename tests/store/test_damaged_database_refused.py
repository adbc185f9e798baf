"""A damaged database is refused with one line that says how to recover it, and is left byte for byte.

Wave 1 appended to a file whose pages had been overwritten mid-file (exit 0, integrity_check
failing afterwards: new rows in b-trees that cannot be trusted), and `agma dump`, `export` and
`dump --new` then crashed with tracebacks. Now the recorder runs PRAGMA quick_check before it
writes and refuses a damaged file; every reader that meets a damaged page says so in one line.
Both name the file and the way out (`sqlite3 FILE .recover`), exit 1, and change nothing.
"""
from __future__ import annotations

import hashlib
import os
import sqlite3

from tests.helpers import agma, last_json


def _recorded(tmp_path, seconds: str = "10"):
    db = tmp_path / "box.sqlite"
    proc = agma("record", "--db", str(db), "--duration", seconds, "--as-fast-as-possible", "--json",
                env={"AGMA_SIM__RENDER": "false", "AGMA_STORE__DUMP_DIR": "off"})
    assert proc.returncode == 0, proc.stderr
    return db, last_json(proc)["session_id"]


def _overwrite_pages(db, first_page: int, n_pages: int) -> str:
    """Garbage over n whole pages from first_page (1-based, as SQLite counts); -> the file's sha256 after."""
    with sqlite3.connect(db) as c:
        page_size = c.execute("PRAGMA page_size").fetchone()[0]
    with open(db, "r+b") as f:
        f.seek(page_size * (first_page - 1))
        f.write(os.urandom(page_size * n_pages))
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        try:
            check = c.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:  # a table's root page: SQLite cannot even walk the file
            check = [(str(exc),)]
    assert check != [("ok",)], "the garbage did not damage the file"
    return _sha256(db)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused(proc, command: str, db) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    assert line.startswith(f"agma {command}: {db} is damaged (") and f"sqlite3 {db} .recover" in line, line
    return line


def test_recorder_refuses_a_file_damaged_mid_file(tmp_path):
    db, _ = _recorded(tmp_path)
    with sqlite3.connect(db) as c:
        pages = c.execute("PRAGMA page_count").fetchone()[0]
    sha = _overwrite_pages(db, pages // 2, 4)  # the middle of the frame data: no page a start reads
    proc = agma("record", "--db", str(db), "--duration", "1", "--as-fast-as-possible", "--json",
                env={"AGMA_SIM__RENDER": "false"})
    line = _refused(proc, "record", db)
    assert "nothing was written to it" in line and "quick_check" in line
    assert last_json(proc)["ok"] is False
    assert _sha256(db) == sha  # untouched, byte for byte


def test_every_reader_and_the_recorder_refuse_a_damaged_file(tmp_path):
    db, uid = _recorded(tmp_path, "2")
    with sqlite3.connect(db) as c:
        frames_root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'frames'").fetchone()[0]
    sha = _overwrite_pages(db, frames_root, 3)  # frames: every reader reads them
    out = tmp_path / "out"
    out.mkdir()
    for command, args in (("sessions", []),
                          ("dump", [uid, "-o", str(out / "one.sqlite")]),
                          ("export", [uid, "--format", "csv", "-o", str(out / "x.csv")]),
                          ("export", [uid, "--format", "npz", "-o", str(out / "x.npz")]),
                          ("record", ["--duration", "1", "--as-fast-as-possible"])):
        _refused(agma(command, *args, "--db", str(db)), command, db)
        assert _sha256(db) == sha, command
    # dump --new: one line for the session it could not dump, then its count; exit 1
    proc = agma("dump", "--new", "-o", str(out / "new"), "--db", str(db))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    failed, count = proc.stderr.strip().splitlines()
    assert failed.startswith(f"dump --new: session {uid} not dumped: {db} is damaged (")
    assert f"sqlite3 {db} .recover" in failed
    assert count == f"dump --new: 0 written, 0 already present, 1 failed in {out / 'new'}"
    assert _sha256(db) == sha
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no half dump, no half export
