"""`agma dump SESSION_ID -o FILE` refuses to replace an existing file unless --force is given.

-o may name anything, including a dump of another session a researcher already pulled or an
unrelated file: replacing it silently loses data the box may no longer hold. The refusal is one
line (exit 2) and leaves the file's bytes as they were.
"""
from __future__ import annotations

import hashlib

from tests.helpers import agma
from tests.store.recorded import record


def test_existing_file_is_kept_without_force(tmp_path):
    db = tmp_path / "box.sqlite"
    a = record(db, seed=1, n_frames=15)["session_id"]
    b = record(db, seed=2, n_frames=20)["session_id"]
    out = tmp_path / "pulled.sqlite"
    agma("dump", a, "-o", str(out), "--db", str(db), check=True)
    before = out.read_bytes()
    proc = agma("dump", b, "-o", str(out), "--db", str(db), "--json")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"agma dump: {out} already exists; add --force to replace it"]
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # nothing half-written

    forced = agma("dump", b, "-o", str(out), "--db", str(db), "--force", check=True)
    digest, name = forced.stdout.strip().splitlines()[-1].split("  ")
    assert name == str(out) and digest == hashlib.sha256(out.read_bytes()).hexdigest() and out.read_bytes() != before
