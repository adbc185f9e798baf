"""Retention for a box that runs for months: the recording rate, days left, and pruning pulled sessions.

At about 93 MB per recorded hour (30 frames/s x 862 B, a camera's compact rows) a busy box fills
its eMMC in weeks and then refuses every start. Two parts:

**The rate and days left** (pure; `agma status`, the MQTT status and `agma doctor` show them):

- ``recorded_bytes_per_day(conn, now_ns)``: the bytes per day the box's recordings add to the
  database's filesystem *at this rate*, which means: the frames stored over the last
  ``window_days`` (7) of wall time — each session's frames weighted by the part of its span inside
  the window, the open session up to now — times the database's own measured bytes per stored frame
  (its used pages, less one page per table and index, over every stored frame: rows, indexes, ground
  truth and events together), divided by the window, or by the time since the first session when
  the database is younger than the window (never less than one day, so one session just recorded
  does not read as a full day's recording per hour). ``stored_copies=2`` when the pending dumps
  (store.dump_dir) are on the same filesystem: until it is pulled each frame is stored twice (a
  dump is about as large per frame as the database). None when no frame was stored in the window
  (no rate to speak of: "days left" is then unknown, not infinite).
- ``days_left(free_bytes, bytes_per_day, reserve_bytes=0)``: how many days until the free space
  falls to ``reserve_bytes`` (store.min_free_mb, where sessions stop starting) at that rate, if
  nothing is pruned meanwhile, i.e. if nobody pulls the dumps: the warning figure. A box whose
  dumps are pulled keeps about store.keep_days of recordings and does not fill up.
- ``disk_outlook(db_path, ...)``: both from a database path (a short read-only connection) and the
  free space beside it (plus the database's own free pages, which the next recordings reuse):
  what a command such as `agma doctor` calls.

**Pruning** (``prune``, run by the daemon in the store writer's thread, on its connection, only
when no session is open; then ``vacuum_if_room``): see ``prunable`` for which sessions go.
"""
from __future__ import annotations

import logging
import math
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NS_PER_DAY = 86_400 * 10**9
#: The default window over which "at this rate" is measured, days.
WINDOW_DAYS = 7.0


def bytes_per_stored_frame(conn: sqlite3.Connection, schema: str = "main") -> float | None:
    """The database's used bytes (pages in use, less one page per table and index: the empty
    schema's own) over every frame its sessions hold; None before the first stored frame."""
    frames = conn.execute(f"SELECT COALESCE(SUM(frames), 0) FROM {schema}.sessions").fetchone()[0]
    if not frames:
        return None
    page_size = conn.execute(f"PRAGMA {schema}.page_size").fetchone()[0]
    pages = conn.execute(f"PRAGMA {schema}.page_count").fetchone()[0]
    free = conn.execute(f"PRAGMA {schema}.freelist_count").fetchone()[0]
    trees = conn.execute(f"SELECT COUNT(*) FROM {schema}.sqlite_master WHERE rootpage > 0").fetchone()[0]
    used = max(0, pages - free - trees - 1) * page_size  # page 1 is the schema's
    return used / frames


def recorded_frames_in_window(conn: sqlite3.Connection, now_ns: int, window_days: float = WINDOW_DAYS) -> float:
    """Frames stored in [now - window, now]: each session's frames times the share of its span
    (started_at_ns .. ended_at_ns, or now while open) inside the window."""
    start = now_ns - int(window_days * NS_PER_DAY)
    total = 0.0
    for s0, s1, frames in conn.execute(
            "SELECT started_at_ns, COALESCE(ended_at_ns, ?), frames FROM sessions "
            "WHERE frames > 0 AND COALESCE(ended_at_ns, ?) >= ? AND started_at_ns <= ?",
            (now_ns, now_ns, start, now_ns)):
        span = s1 - s0
        if span <= 0:
            total += frames
            continue
        inside = min(s1, now_ns) - max(s0, start)
        total += frames * max(0.0, min(1.0, inside / span))
    return total


def recorded_bytes_per_day(conn: sqlite3.Connection, now_ns: int, window_days: float = WINDOW_DAYS,
                           stored_copies: int = 1) -> float | None:
    """Bytes per day the recordings add at the rate of the last ``window_days`` (see the module's doc).

    conn: any connection to an agma database (read-only is enough); now_ns: the wall clock, ns
    since the Unix epoch. -> bytes/day, or None when no frame was stored in the window.
    """
    if window_days <= 0:
        raise ValueError(f"window_days must be > 0, got {window_days!r}")
    per_frame = bytes_per_stored_frame(conn)
    if per_frame is None:
        return None
    frames = recorded_frames_in_window(conn, now_ns, window_days)
    if frames <= 0:
        return None
    first = conn.execute("SELECT MIN(started_at_ns) FROM sessions").fetchone()[0]
    age_days = (now_ns - first) / NS_PER_DAY if first is not None else window_days
    span_days = min(window_days, max(1.0, age_days))
    return frames * per_frame * stored_copies / span_days


def days_left(free_bytes: float, bytes_per_day: float | None, reserve_bytes: float = 0.0) -> float | None:
    """Days until ``free_bytes`` falls to ``reserve_bytes`` at ``bytes_per_day``.

    None when the rate is unknown (None, not finite) or zero (nothing is being recorded: no end in
    sight is not a number of days); 0.0 when the free space is already at or below the reserve.
    """
    if bytes_per_day is None or not math.isfinite(bytes_per_day) or bytes_per_day <= 0:
        return None
    if not math.isfinite(free_bytes):
        return None
    return max(0.0, (free_bytes - reserve_bytes) / bytes_per_day)


@dataclass(frozen=True)
class Outlook:
    """The disk's outlook beside a database: free bytes, the recording rate, days left at it."""

    free_bytes: int
    bytes_per_day: float | None
    days_left: float | None
    stored_copies: int  # 2 when the pending dumps share the database's filesystem

    def text(self) -> str:
        if self.days_left is None:
            return f"{self.free_bytes / 1e6:.0f} MB free; no recording in the last {WINDOW_DAYS:g} days (no rate)"
        return (f"{self.free_bytes / 1e6:.0f} MB free; {self.bytes_per_day / 1e6:.1f} MB/day recorded over the last "
                f"{WINDOW_DAYS:g} days: {self.days_left:.1f} days left at this rate")


def same_filesystem(a: Path, b: Path) -> bool:
    """Whether two paths (or the nearest existing folders above them) are on one filesystem."""
    from .diskguard import existing_dir

    def dev(p: Path) -> int:
        p = Path(p)
        return os.stat(p if p.is_dir() else existing_dir(p)).st_dev
    try:
        return dev(a) == dev(b)
    except OSError:
        return False


def disk_outlook(db_path: Path, now_ns: int, min_free_mb: float = 0.0, dump_dir: Path | None = None,
                 window_days: float = WINDOW_DAYS) -> Outlook:
    """``days_left`` for the database at ``db_path``: a short read-only connection (readers never
    block the daemon), the free space beside it (store.min_free_mb kept back), and twice the rate
    when ``dump_dir`` (store.dump_dir, None when off) is on the same filesystem. Raises what
    listing.open_readonly raises for a missing or foreign file (AgmaError, one line)."""
    from .diskguard import MB, free_bytes
    from .listing import open_readonly

    copies = 2 if dump_dir is not None and same_filesystem(Path(dump_dir), Path(db_path)) else 1
    conn = open_readonly(Path(db_path))
    try:
        rate = recorded_bytes_per_day(conn, now_ns, window_days, copies)
        reusable = free_pages_bytes(conn)
    finally:
        conn.close()
    free = free_bytes(Path(db_path)) + reusable
    return Outlook(free, rate, days_left(free, rate, min_free_mb * MB), copies)


def free_pages_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of the database's free pages (freed by deletions, not yet vacuumed): the next
    recordings reuse them before the file grows, so they count as free space."""
    return conn.execute("PRAGMA freelist_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]


# -- pulled dumps --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ack:
    """The outcome of acknowledging one session's dump as pulled."""

    uid: str
    ended_at_ns: int
    pulled_at_ns: int
    pulled_by: str
    already: bool  # it had counted as pulled before (pulled_at_ns / pulled_by are that first time's)


def record_dump_written(conn: sqlite3.Connection, session_uid: str, path: Path, sha256: str,
                        t_ns: int | None = None) -> None:
    """The box wrote the session's pending dump (``path``, its sha256): a later removal of that file
    by the puller counts as pulled. Inside the caller's transaction; a pulled state is kept."""
    import time

    row = conn.execute("SELECT id FROM sessions WHERE uid = ?", (session_uid,)).fetchone()
    if row is None:
        raise ValueError(f"no session {session_uid!r}")
    conn.execute(
        "INSERT INTO session_dumps(session_id, path, sha256, written_at_ns) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(session_id) DO UPDATE SET path = excluded.path, sha256 = excluded.sha256, "
        "written_at_ns = excluded.written_at_ns",
        (row[0], str(Path(path).absolute()), sha256, time.time_ns() if t_ns is None else t_ns))


def acknowledge(conn: sqlite3.Connection, uid: str, db_path: Path | str = "the database",
                t_ns: int | None = None) -> Ack:
    """`agma dump --ack UID`: the session's dump has been pulled (inside the caller's transaction).

    Refused (AgmaError, one line) for an unknown uid and for a session still open (its dump does
    not exist yet). Acknowledging twice keeps the first time.
    """
    import time

    from ..errors import AgmaError
    from .listing import find_session

    s = find_session(conn, uid, db_path)
    if s.end_reason is None:
        raise AgmaError(f"session {uid} is still open (recording, or interrupted and not yet recovered): its dump "
                        f"can be pulled and acknowledged once it has ended")
    now = time.time_ns() if t_ns is None else t_ns
    row = conn.execute("SELECT pulled_at_ns, pulled_by FROM session_dumps WHERE session_id = ?", (s.id,)).fetchone()
    if row is not None and row[0] is not None:
        return Ack(uid, s.ended_at_ns, row[0], row[1], already=True)
    conn.execute("INSERT INTO session_dumps(session_id, pulled_at_ns, pulled_by) VALUES (?, ?, 'ack') "
                 "ON CONFLICT(session_id) DO UPDATE SET pulled_at_ns = excluded.pulled_at_ns, pulled_by = 'ack'",
                 (s.id, now))
    return Ack(uid, s.ended_at_ns, now, "ack", already=False)


def notice_pulled(conn: sqlite3.Connection, dump_dir: Path | None, now_ns: int) -> tuple[list[str], list[str]]:
    """What the pending-dump folder says (inside the caller's transaction) -> (uids found, uids pulled).

    Found: a closed session with no session_dumps row whose ``<dump_dir>/<uid>.sqlite`` and its
    ``.sha256`` are there (written by an older agma, by a dumper whose record was lost, or by
    `agma dump --new -o` into that folder): recorded as written, so that its removal counts later.
    Pulled: a recorded pending dump whose file is gone while its folder is still there (a folder
    that is missing — an unmounted disk — proves nothing). The file's sha256 is not recomputed:
    files in the box's dump folder only ever appear complete (store/dump.py).
    """
    from .dump import check_uid_for_file_name, read_sha256_sidecar

    found: list[str] = []
    if dump_dir is not None and Path(dump_dir).is_dir():
        for sid, uid in conn.execute(
                "SELECT s.id, s.uid FROM sessions AS s LEFT JOIN session_dumps AS d ON d.session_id = s.id "
                "WHERE s.end_reason IS NOT NULL AND d.session_id IS NULL ORDER BY s.id").fetchall():
            try:
                check_uid_for_file_name(uid)
            except Exception:
                continue
            path = Path(dump_dir) / f"{uid}.sqlite"
            digest = read_sha256_sidecar(path)
            if digest is not None and path.is_file():
                conn.execute("INSERT INTO session_dumps(session_id, path, sha256, written_at_ns) VALUES (?, ?, ?, ?)",
                             (sid, str(path.absolute()), digest, now_ns))
                found.append(uid)
    pulled: list[str] = []
    for sid, uid, path in conn.execute(
            "SELECT d.session_id, s.uid, d.path FROM session_dumps AS d JOIN sessions AS s ON s.id = d.session_id "
            "WHERE d.path IS NOT NULL AND d.pulled_at_ns IS NULL ORDER BY d.session_id").fetchall():
        p = Path(path)
        if not p.exists() and p.parent.is_dir():
            conn.execute("UPDATE session_dumps SET pulled_at_ns = ?, pulled_by = 'removed' WHERE session_id = ?",
                         (now_ns, sid))
            pulled.append(uid)
    return found, pulled


# -- pruning -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """A session retention may delete: closed, ended more than keep_days ago, its dump pulled."""

    id: int
    uid: str
    frames: int
    started_at_ns: int
    ended_at_ns: int
    pulled_at_ns: int
    pulled_by: str
    dump_path: str | None


def prunable(conn: sqlite3.Connection, now_ns: int, keep_days: int) -> list[Candidate]:
    """The sessions to delete now, oldest first. Never one that is open (no end_reason), never one
    that ended keep_days ago or less, never one whose dump has not been pulled, never one that a kept
    session continues (sessions.continues_session: it goes with its continuation). keep_days 0: none.
    """
    if keep_days <= 0:
        return []
    cutoff = now_ns - keep_days * NS_PER_DAY
    rows = conn.execute(
        "SELECT s.id, s.uid, s.frames, s.started_at_ns, s.ended_at_ns, d.pulled_at_ns, d.pulled_by, d.path "
        "FROM sessions AS s JOIN session_dumps AS d ON d.session_id = s.id "
        "WHERE s.end_reason IS NOT NULL AND s.ended_at_ns IS NOT NULL AND s.ended_at_ns < ? "
        "AND d.pulled_at_ns IS NOT NULL ORDER BY s.started_at_ns, s.id", (cutoff,)).fetchall()
    chosen = {r[0]: Candidate(*r) for r in rows}
    continued_by = conn.execute("SELECT id, continues_session FROM sessions WHERE continues_session IS NOT NULL"
                                ).fetchall()
    changed = True
    while changed:  # a session continued by one that stays, stays (until its continuation goes too)
        changed = False
        for sid, prev in continued_by:
            if prev in chosen and sid not in chosen:
                del chosen[prev]
                changed = True
    return sorted(chosen.values(), key=lambda c: (c.started_at_ns, c.id))


def _session_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table with a session_id column besides events (deleted with its outbox rows first)."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return [n for n in names if n != "events"
            and "session_id" in [c[1] for c in conn.execute(f'PRAGMA table_info("{n}")')]]


def delete_session(conn: sqlite3.Connection, session_id: int) -> None:
    """Delete one session and every row that carries its id (inside the caller's transaction):
    its events (and their rows waiting in mqtt_outbox), frames, joint_samples, ground_truth,
    session_dumps, any other table's with a session_id, then the sessions row. Box-level events and
    the calibrations rows stay."""
    conn.execute("DELETE FROM mqtt_outbox WHERE event_id IN (SELECT id FROM events WHERE session_id = ?)",
                 (session_id,))
    conn.execute("DELETE FROM events WHERE session_id = ?", (session_id,))
    for table in _session_tables(conn):
        conn.execute(f'DELETE FROM "{table}" WHERE session_id = ?', (session_id,))
    conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))


def _iso(t_ns: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t_ns / 1e9, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def prune(conn: sqlite3.Connection, now_ns: int, keep_days: int) -> list[Candidate]:
    """Delete every ``prunable`` session, newest first (a continuation goes before the session it
    continues: sessions.continues_session is a foreign key), each in a transaction of its own
    together with a box-level ``session_pruned`` event; then remove what is left of its pending dump (an acknowledged one the
    puller did not remove). -> the sessions deleted. Runs on the writer's connection, outside any
    transaction; an interruption (sqlite3.OperationalError) rolls back the session being deleted."""
    from .sessions import add_event
    from .writer import transaction

    done = []
    for c in reversed(prunable(conn, now_ns, keep_days)):  # newest first: a continuation before what it continues
        with transaction(conn):
            delete_session(conn, c.id)
            add_event(conn, None, "session_pruned",
                      f"{c.uid}: {c.frames} frames, ended {_iso(c.ended_at_ns)}, dump pulled {_iso(c.pulled_at_ns)} "
                      f"({c.pulled_by}); older than store.keep_days {keep_days}", now_ns)
        done.append(c)
        log.info("retention: session %s deleted (%d frames, ended %s, dump pulled %s by %s; store.keep_days %d)",
                 c.uid, c.frames, _iso(c.ended_at_ns), _iso(c.pulled_at_ns), c.pulled_by, keep_days)
        if c.dump_path:
            from .dump import sha256_sidecar

            for p in (Path(c.dump_path), sha256_sidecar(Path(c.dump_path))):
                try:
                    p.unlink()
                    log.info("retention: removed %s (session %s deleted)", p, c.uid)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    log.warning("retention: cannot remove %s: %s", p, exc)
    return done


# -- VACUUM --------------------------------------------------------------------------------------------------
#: VACUUM only when at least this share of the file is free pages: smaller gains are reused by the
#: next recordings anyway, and each VACUUM rewrites the whole file (eMMC wear, time).
VACUUM_MIN_FREE_SHARE = 0.25


def sqlite_temp_dir() -> Path:
    """Where SQLite (unix) puts VACUUM's temporary database: $SQLITE_TMPDIR, $TMPDIR, /var/tmp,
    /usr/tmp, /tmp, the first that is a writable folder; else the current folder."""
    for d in (os.environ.get("SQLITE_TMPDIR"), os.environ.get("TMPDIR"), "/var/tmp", "/usr/tmp", "/tmp"):
        if d and os.path.isdir(d) and os.access(d, os.W_OK | os.X_OK):
            return Path(d)
    return Path(".")


@dataclass(frozen=True)
class VacuumOutcome:
    done: bool
    text: str  # one line: what it did or why not
    bytes_before: int = 0
    bytes_after: int = 0


def vacuum_if_room(conn: sqlite3.Connection, db_path: Path, min_free_bytes: int = 0,
                   min_free_share: float = VACUUM_MIN_FREE_SHARE) -> VacuumOutcome:
    """VACUUM the database (outside any transaction) when at least ``min_free_share`` of its pages
    are free and the disks have room; then checkpoint the WAL (TRUNCATE) so the file shrinks.

    Room: VACUUM builds the compact copy in SQLite's temporary folder, then writes it through the WAL
    beside the database, so the database's filesystem needs the compact size plus ``min_free_bytes``
    (store.min_free_mb) free, twice the compact size when the temporary folder is on it too;
    otherwise it is skipped with a log line and tried again at the next idle moment.
    """
    from .diskguard import MB, free_bytes

    page = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free_pages = conn.execute("PRAGMA freelist_count").fetchone()[0]
    before = pages * page
    if pages == 0 or free_pages < min_free_share * pages:
        return VacuumOutcome(False, f"no VACUUM needed ({free_pages * page / MB:.1f} MB of {before / MB:.1f} MB free "
                                    f"in the file, below {min_free_share:.0%})", before, before)
    compact = (pages - free_pages) * page
    tmp = sqlite_temp_dir()
    db_free = free_bytes(Path(db_path))
    shared = same_filesystem(tmp, Path(db_path))
    need_db = compact * (2 if shared else 1) + min_free_bytes
    short = []
    if db_free < need_db:
        short.append(f"{db_free / MB:.1f} MB free beside the database, {need_db / MB:.1f} MB needed")
    if not shared:
        tmp_free = free_bytes(tmp / "x")
        if tmp_free < compact:
            short.append(f"{tmp_free / MB:.1f} MB free in {tmp}, {compact / MB:.1f} MB needed")
    if short:
        text = f"VACUUM skipped: {'; '.join(short)} (the database keeps its free pages for the next recordings)"
        log.warning("retention: %s", text)
        return VacuumOutcome(False, text, before, before)
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = conn.execute("PRAGMA page_count").fetchone()[0] * page
    text = f"VACUUM: {before / MB:.1f} MB -> {after / MB:.1f} MB"
    log.info("retention: %s", text)
    return VacuumOutcome(True, text, before, after)


@dataclass(frozen=True)
class Maintenance:
    """What one idle-moment run did."""

    found: tuple[str, ...] = ()
    pulled: tuple[str, ...] = ()
    pruned: tuple[str, ...] = ()
    vacuum: VacuumOutcome | None = None
    interrupted: bool = False


def maintain(conn: sqlite3.Connection, db_path: Path, now_ns: int, keep_days: int, dump_dir: Path | None,
             min_free_bytes: int = 0) -> Maintenance:
    """The daemon's idle-moment run, on the writer's connection outside any transaction (StoreWriter.maintain):
    notice pulled dumps, prune, VACUUM when worth it. keep_days 0: nothing at all. An interruption
    (anything else queued for the writer) ends it early, rolled back to the last whole step."""
    from .writer import transaction

    if keep_days <= 0:
        return Maintenance()
    found: list[str] = []
    pulled: list[str] = []
    pruned: list[Candidate] = []
    try:
        with transaction(conn):
            found, pulled = notice_pulled(conn, dump_dir, now_ns)
        for uid in found:
            log.info("retention: found the pending dump of session %s in %s", uid, dump_dir)
        for uid in pulled:
            log.info("retention: the pending dump of session %s was removed from its folder: counts as pulled", uid)
        pruned = prune(conn, now_ns, keep_days)
        vac = vacuum_if_room(conn, db_path, min_free_bytes) if pruned or _worth_vacuum(conn) else None
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise
        log.info("retention: interrupted (the store is needed); the rest waits for the next idle moment")
        return Maintenance(tuple(found), tuple(pulled), tuple(c.uid for c in pruned), None, interrupted=True)
    return Maintenance(tuple(found), tuple(pulled), tuple(c.uid for c in pruned), vac)


def _worth_vacuum(conn: sqlite3.Connection) -> bool:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    return pages > 0 and conn.execute("PRAGMA freelist_count").fetchone()[0] >= VACUUM_MIN_FREE_SHARE * pages
