"""A real full disk (a small tmpfs) ends a session as disk_full: clean, uncorrupted, nothing lost or deleted.

Something else filling the disk mid-session is the realistic case (logs, another program): the
recorder must end the session itself, commit what it had queued into the reserve, close the row
with an event, and keep every committed frame. Two ways in: the free space falls below
store.min_free_mb (the writer looks after each commit), or the disk fills to the last byte before
it looks (a commit fails with SQLITE_FULL; the writer's own small reserve file lets the row close).
A start the disk cannot hold is refused with the figures. The filler is never touched.

Each recorder runs under tests.helpers.start_agma (killed however the test ends, before the tmpfs
is unmounted); the tests wait for 10 committed frames and for the recorder's end with generous
deadlines, not fixed windows.
"""
from __future__ import annotations

import json
import sqlite3

from appliance.store import diskguard
from tests.helpers import DEADLINE_S, agma, start_agma, wait_until
from tests.store.expected_rows import check_session_frames
from tests.store.tmpfs import fill, free_bytes, tmpfs

SEED, NOISE = 7, 1.5


def _start(db, min_free_mb: float, max_session_s: float):
    """A live `agma record` into ``db`` (a context manager: killed on leaving it)."""
    return start_agma("record", "--db", str(db), "--seed", str(SEED), "--sim-noise-px", str(NOISE), "--json",
                      env={"AGMA_STORE__MIN_FREE_MB": str(min_free_mb), "AGMA_STORE__MAX_SESSION_S": str(max_session_s),
                           "AGMA_STORE__COMMIT_INTERVAL_S": "0.1", "AGMA_SIM__RENDER": "false"})


def _committed(db) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
            return c.execute("SELECT COUNT(*) FROM frames").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _wait_frames(db, n: int, proc) -> None:
    try:
        wait_until(lambda: _committed(db) >= n, f"{n} frames committed", proc=proc)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; stderr:\n{proc.stderr.read() if proc.poll() is not None else ''}") from None


def _check_ended_disk_full(db, proc, filler, filler_size) -> dict:
    out, err = proc.communicate(timeout=DEADLINE_S)
    assert proc.returncode == 1, err  # the session ended early: a non-zero exit and one line saying so
    assert err.strip().splitlines()[-1].startswith("agma record: session ") and "disk_full" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["end_reason"] == "disk_full", err
    assert filler.stat().st_size == filler_size  # nothing deleted, nothing shrunk
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (sid, end_reason, frames_col, ended) = c.execute(
            "SELECT id, end_reason, frames, ended_at_ns FROM sessions").fetchone()
        assert end_reason == "disk_full" and ended is not None
        indexes = check_session_frames(c, sid, SEED, NOISE)  # every committed frame intact
        assert frames_col == len(indexes) == summary["frames"]
        kinds = c.execute("SELECT kind, detail FROM events WHERE session_id = ? ORDER BY id", (sid,)).fetchall()
        assert [k for k, _ in kinds] == ["session_started", "session_ended"]
        assert kinds[1][1].startswith("disk_full: ")
    return summary


def test_below_min_free_ends_session_as_disk_full(tmp_path):
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "16m"):
        db = mnt / "g.sqlite"
        with _start(db, min_free_mb=4, max_session_s=60) as proc:  # 4 + 5 (WAL) + 1800 x 3200 B = 14.8 MB of 16.8
            _wait_frames(db, 10, proc)
            filler = fill(mnt, leave_bytes=3_000_000)  # below the 4 MB reserve, still room for the rest
            size = filler.stat().st_size
            summary = _check_ended_disk_full(db, proc, filler, size)
        assert "below store.min_free_mb 4 MB" in summary["error"]
        assert free_bytes(mnt) > 0


def test_disk_full_to_the_last_byte_still_ends_cleanly(tmp_path):
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "8m"):
        db = mnt / "z.sqlite"
        with _start(db, min_free_mb=0, max_session_s=20) as proc:  # no reserve configured: SQLITE_FULL comes first
            _wait_frames(db, 10, proc)
            filler = fill(mnt)  # every last block
            size = filler.stat().st_size
            summary = _check_ended_disk_full(db, proc, filler, size)
        assert "database or disk is full" in summary["error"]


def test_start_on_nearly_full_disk_refused_with_figures(tmp_path):
    mnt = tmp_path / "mnt"
    with tmpfs(mnt, "4m"):
        db = mnt / "sub" / "n.sqlite"
        db.parent.mkdir()  # a configured store.db's folder must exist (agma record refuses a missing one)
        fill(mnt, leave_bytes=1_500_000)
        free = free_bytes(mnt)
        proc = agma("record", "--duration", "10", "--db", str(db), "--json", env={"AGMA_STORE__MIN_FREE_MB": "1"})
        assert proc.returncode == 1 and json.loads(proc.stdout)["ok"] is False  # --json: only the error document
        (line,) = proc.stderr.strip().splitlines()
        needed = 1_000_000 + diskguard.WAL_BYTES + 300 * diskguard.BYTES_PER_FRAME
        assert f"{free / 1e6:.1f} MB free on {db.parent}, {needed / 1e6:.1f} MB needed" in line, line
        assert "store.min_free_mb 1 MB" in line and "300 frames" in line and "--duration" in line
        assert list(db.parent.iterdir()) == []  # nothing written
