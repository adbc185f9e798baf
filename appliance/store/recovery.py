"""Recovery after a crash: close the sessions a dead writer left open, and decide whether to resume.

Only the holder of the database's write lock (store/lock.py) runs ``close_interrupted``, at
start, before it opens a session of its own. Holding the lock proves that no live process is
recording into the file, so every session still open there was left by a holder that died (a
crash, SIGKILL, a power cut): it is closed as ``interrupted`` with ``ended_at_ns`` = its last
committed frame's ``t_ns`` (``started_at_ns`` when it has none), its ``frames`` = the rows kept,
a ``session_ended`` event at that time and a ``session_recovered`` event at the time of recovery.
Nothing is deleted. ``close_at_last_frame`` is that closing step on its own, also used for the
session of a writer that failed (store/writer.py).

``resume_target`` is the decision the daemon takes after that: a recording interrupted less than
``store.resume_after_crash_s`` ago is continued as a new session whose ``continues_session``
points to it, because the nurse meant it to go on. ``agma record`` never asks (a person at a
shell starts what they mean to start).
"""
from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

from .sessions import add_event, close_session


@dataclass(frozen=True)
class RecoveredSession:
    id: int
    uid: str
    started_at_ns: int
    ended_at_ns: int
    frames: int


def close_at_last_frame(conn: sqlite3.Connection, session_id: int, end_reason: str, dropped_frames: int,
                        detail: str | None = None) -> RecoveredSession:
    """Close a session from what the file holds: ``ended_at_ns`` = its last committed frame's
    ``t_ns`` (``started_at_ns`` without one), ``frames`` = the rows kept, a ``session_ended``
    event at that time. Call inside a transaction, holding the write lock. A row that is closed
    already is left as it is (and returned as it is).

    Used for sessions a dead holder left open (``close_interrupted``) and for the session of a
    writer that failed (StoreWriter.close_session_after_failure), where what the writer thought
    it had stored matters less than what the file really holds.
    """
    sid, uid, started, ended_already, reason = conn.execute(
        "SELECT id, uid, started_at_ns, ended_at_ns, end_reason FROM sessions WHERE id = ?", (session_id,)).fetchone()
    n, last_t = conn.execute("SELECT COUNT(*), MAX(t_ns) FROM frames WHERE session_id = ?", (sid,)).fetchone()
    if reason is not None:
        return RecoveredSession(id=sid, uid=uid, started_at_ns=started, ended_at_ns=ended_already, frames=n)
    ended = started if last_t is None else last_t
    conn.execute("UPDATE sessions SET frames = ? WHERE id = ?", (n, sid))  # equal already: same transactions
    close_session(conn, sid, end_reason, dropped_frames, detail=detail, ended_at_ns=ended)
    return RecoveredSession(id=sid, uid=uid, started_at_ns=started, ended_at_ns=ended, frames=n)


def close_interrupted(conn: sqlite3.Connection, previous_holder: int | None = None,
                      now_ns: int | None = None) -> list[RecoveredSession]:
    """Close every open session as interrupted (call inside one transaction, holding the write lock)."""
    now = time.time_ns() if now_ns is None else now_ns
    out = []
    who = f"pid {previous_holder}" if previous_holder is not None else "a recorder"
    rows = conn.execute("SELECT id, dropped_frames FROM sessions WHERE end_reason IS NULL ORDER BY id").fetchall()
    for sid, dropped in rows:
        n = conn.execute("SELECT COUNT(*) FROM frames WHERE session_id = ?", (sid,)).fetchone()[0]
        detail = f"{who} stopped without closing it (crash, kill or power cut); {n} committed frames kept"
        r = close_at_last_frame(conn, sid, "interrupted", dropped, detail)
        add_event(conn, sid, "session_recovered",
                  f"closed as interrupted by pid {os.getpid()} on taking the write lock; ended_at_ns = "
                  + ("last committed frame's t_ns" if n else "started_at_ns (no frame committed)"),
                  now)
        out.append(r)
    return out


@dataclass(frozen=True)
class ResumeDecision:
    """Continue session ``session_id`` (``uid``), interrupted ``age_s`` seconds ago."""

    session_id: int
    uid: str
    age_s: float
    box_id: str
    bed_label: str


def resume_target(conn: sqlite3.Connection, now_ns: int, resume_after_crash_s: float) -> ResumeDecision | None:
    """The interrupted session to continue now, or None.

    Resume when the newest session of the file (nothing was started after it) ended
    ``interrupted`` and its interruption (``ended_at_ns``: the last committed frame) is less than
    ``resume_after_crash_s`` old; 0 turns resuming off. A negative age (the clock went back, e.g.
    a box without a kept RTC) counts as young: a needless continuation costs a session row, a
    missed one loses the recording. Readers may call this too: it only reads.
    """
    if resume_after_crash_s <= 0:
        return None
    row = conn.execute("SELECT id, uid, end_reason, ended_at_ns, box_id, bed_label FROM sessions "
                       "ORDER BY id DESC LIMIT 1").fetchone()
    if row is None or row[2] != "interrupted" or row[3] is None:
        return None
    age_s = (now_ns - row[3]) / 1e9
    if age_s >= resume_after_crash_s:
        return None
    return ResumeDecision(session_id=row[0], uid=row[1], age_s=age_s, box_id=row[4], bed_label=row[5])
