"""A real `agma record` whose store writer fails mid-session (tests/store/fault_injection.py), and
what must be true afterwards: the command ended by itself with exit 1 and one line naming the
cause, no traceback; the file is intact, every committed frame is there and exact, and the
session row is closed as ``error`` at its last committed frame, not left for crash recovery.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys

from tests.helpers import clean_env, last_json, run
from tests.store.expected_rows import check_session_frames

SEED, NOISE = 7, 1.5
#: A hang guard, not a bound: before the fix the recorder waited for ever on the dead writer.
HANG_GUARD_S = 300.0


def record_with_fault(db, fault_env: dict, *args: str) -> subprocess.CompletedProcess:
    env = clean_env({"AGMA_STORE__COMMIT_INTERVAL_S": "0.1", "AGMA_SIM__RENDER": "false", **fault_env})
    cmd = [sys.executable, "-m", "tests.store.fault_injection", "record", "--db", str(db), "--seed", str(SEED),
           "--sim-noise-px", str(NOISE), "--json", *args]
    try:
        return run(cmd, env=env, timeout=HANG_GUARD_S)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"agma record did not end within {HANG_GUARD_S:.0f} s after its store writer failed "
                             "(it hangs)") from None


def check_ended_as_error(proc: subprocess.CompletedProcess, db, cause: str) -> dict:
    """The assertions common to every way the writer can fail; -> the summary."""
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    ours = [line for line in lines if line.startswith("agma record:")]
    assert ours == [lines[-1]], proc.stderr  # one line from the command, the last, naming the session and cause
    assert "ended early (error)" in ours[0] and cause in ours[0], ours[0]
    summary = last_json(proc)
    assert summary["end_reason"] == "error" and cause in summary["error"]
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        (sid, uid, reason, ended, frames_col), = c.execute(
            "SELECT id, uid, end_reason, ended_at_ns, frames FROM sessions").fetchall()
        count, last_t = c.execute("SELECT COUNT(*), MAX(t_ns) FROM frames WHERE session_id = ?", (sid,)).fetchone()
        assert uid == summary["session_id"] and reason == "error"
        assert count > 0, "the fault struck before any commit: the test proves nothing"
        assert frames_col == count == summary["frames"]
        assert ended == last_t  # closed at its last committed frame
        assert len(check_session_frames(c, sid, SEED, NOISE)) == count  # every committed frame exact
        events = c.execute("SELECT kind, detail FROM events WHERE session_id = ? ORDER BY id", (sid,)).fetchall()
        assert [k for k, _ in events] == ["session_started", "session_ended"]
        assert events[1][1].startswith("error: store: ") and cause in events[1][1]
    # the lock went with the recorder, and the row was really closed: the next recorder recovers nothing
    after = run([sys.executable, "-m", "appliance", "record", "--db", str(db), "--duration", "0.2",
                 "--as-fast-as-possible", "--json"], env=clean_env({"AGMA_SIM__RENDER": "false"}))
    assert after.returncode == 0, after.stderr
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as c:
        assert c.execute("SELECT COUNT(*) FROM events WHERE kind = 'session_recovered'").fetchone() == (0,)
        row = c.execute("SELECT end_reason, ended_at_ns FROM sessions WHERE id = ?", (sid,)).fetchone()
        assert row == ("error", ended)
    return summary
