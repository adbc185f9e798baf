"""The commands docs/research-data.md gives IT for pulling dumps off a headless box really run.

Why: IT follows that page on a box with no screen; a command that does not run as written, or a
procedure that does not count as pulled, leaves the box filling up (retention never deletes an
unpulled session). The two marked blocks are run as written by bash, with only what a test
machine lacks replaced: ``agma@box-3:`` (rsync's remote side) becomes the local box folder,
``ssh agma@box-3 CMD`` runs CMD here, and ``/var/lib/agma`` is a temporary folder holding a
database with real recorded sessions. Then the box's own view: rsync's removals count as pulled
(found by retention's check), the ssh way's sessions are acknowledged.
"""
from __future__ import annotations

import os
import re
import shutil
import sqlite3
import sys
import time

from appliance.store import retention
from appliance.store.writer import StoreWriter
from tests.helpers import REPO, agma, clean_env, run

DOC = (REPO / "docs" / "research-data.md").read_text(encoding="utf-8")
RSYNC = shutil.which("rsync")
INSTALL = "needs rsync (apt-get install -y rsync), which docs/research-data.md tells IT to use"


def _block(marker: str) -> str:
    m = re.search(rf"<!-- {marker} -->\n```\n(.*?)```", DOC, re.S)
    assert m, f"docs/research-data.md has no block after <!-- {marker} -->"
    return m.group(1)


def _box(tmp, name: str, *env_extra: tuple[str, str]) -> tuple:
    """/var/lib/agma of a box with two recorded sessions -> (folder, database, uids)."""
    box = tmp / name
    box.mkdir()
    db = box / "agma.sqlite"
    env = dict(env_extra)
    for seed in (1, 2):
        agma("record", "--db", str(db), "--duration", "0.2", "--as-fast-as-possible", "--seed", str(seed),
             "--box-id", "box-3", env=env, check=True)
    conn = sqlite3.connect(db)
    try:
        uids = [r[0] for r in conn.execute("SELECT uid FROM sessions ORDER BY id")]
    finally:
        conn.close()
    return box, db, uids


def _run_block(marker: str, box, cwd, env_extra=None) -> str:
    assert RSYNC, INSTALL
    bin_dir = cwd / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "agma"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m appliance "$@"\n')
    shim.chmod(0o755)
    script = _block(marker).replace("agma@box-3:", "").replace("/var/lib/agma", str(box))
    env = clean_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO), **(env_extra or {})})
    p = run(["bash", "-c", "set -euo pipefail\nssh() { shift; \"$@\"; }\n" + script], env=env, cwd=cwd)
    assert p.returncode == 0, f"the {marker} block failed ({p.returncode}):\n{script}\n{p.stdout}\n{p.stderr}"
    return p.stdout


def test_rsync_with_remove_source_files_counts_as_pulled(tmp_path):
    box, db, uids = _box(tmp_path, "box")
    it = tmp_path / "it"
    it.mkdir()
    out = _run_block("pull:rsync", box, it)
    got = it / "agma-dumps" / "box-3"
    assert sorted(p.name for p in got.iterdir()) == sorted(f"{u}.sqlite{x}" for u in uids for x in ("", ".sha256"))
    assert out.count(": OK") == 2  # sha256sum -c
    assert list((box / "dumps").iterdir()) == []  # moved off the box
    w = StoreWriter(db)
    w.start()
    try:
        done = w.maintain(lambda c: retention.maintain(c, db, time.time_ns(), 30, box / "dumps")).result(timeout=120)
    finally:
        w.stop()
    assert done.pulled == tuple(uids) and done.pruned == ()  # pulled; deleted 30 days after they ended
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT pulled_by FROM session_dumps ORDER BY session_id").fetchall() == [("removed",)] * 2
    finally:
        conn.close()


def test_dump_new_over_ssh_then_ack(tmp_path):
    box, db, uids = _box(tmp_path, "box", ("AGMA_STORE__DUMP_DIR", "off"))
    it = tmp_path / "it"
    it.mkdir()
    out = _run_block("pull:ssh", box, it)
    got = it / "agma-pull" / "box-3"
    assert sorted(p.name for p in got.glob("*.sqlite")) == sorted(f"{u}.sqlite" for u in uids)
    assert out.count(": OK") == 2 and all(f"{u}: acknowledged as pulled" in out for u in uids)
    assert list((box / "pull").iterdir()) == []
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT pulled_by FROM session_dumps ORDER BY session_id").fetchall() == [("ack",)] * 2
    finally:
        conn.close()
    again = agma("dump", "--new", "--not-pulled", "-o", str(box / "pull"), "--db", str(db))
    assert again.returncode == 0 and "0 written" in again.stderr and list((box / "pull").iterdir()) == []
