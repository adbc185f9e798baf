"""Standalone per-session dumps: one SQLite file holding exactly one session, for researchers.

How a dump is made (``dump_session``):

1. One read transaction on the box's database (opened read-only, attached to a scratch database)
   copies that session's rows: its ``sessions`` row, its ``calibrations`` row, its ``frames``,
   ``joint_samples`` (``joints`` before schema version 3), ``ground_truth`` and ``events`` (plus
   box-level events inside its time span), every other table's rows that carry its
   ``session_id``, and all of ``joint_names`` and ``meta``. The tables, indexes and views (``joints``
   over ``joint_samples``, ``trajectory``) are created from the source's own ``CREATE`` statements,
   so a dump keeps the schema version of the database it came from. WAL gives that transaction one snapshot:
   a session being recorded at the same time changes nothing in it, and the recorder is never
   blocked (readers don't need its lock).
2. A ``data_dictionary(table_name, column_name, unit, meaning)`` table is added from
   ``schema.data_dictionary_rows()``, limited to the columns the dump really has.
3. ``VACUUM INTO`` writes the final file from the scratch database (SQLite's own consistent copy: a
   compact file in rollback-journal mode, never a file copy), under a temporary dot-name in the
   destination folder; ``PRAGMA integrity_check`` must answer ok and the file must hold exactly one
   session; the file is fsynced, then renamed to its final name (atomic on one filesystem).

The same session dumped twice by the same software gives the same bytes (no timestamp goes in), so
its sha256 identifies it.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import AgmaError
from ..files import fsync_dir, fsync_file, sha256_file
from .integrity import reading
from .listing import find_session, open_readonly, readonly_uri
from .schema import data_dictionary_rows

log = logging.getLogger(__name__)

DATA_DICTIONARY_DDL = """CREATE TABLE data_dictionary (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  unit TEXT NOT NULL,
  meaning TEXT NOT NULL,
  PRIMARY KEY (table_name, column_name)
) WITHOUT ROWID"""
_SELF_DOC = (
    ("data_dictionary", "table_name", "", "Table or view the column belongs to."),
    ("data_dictionary", "column_name", "", "Column name."),
    ("data_dictionary", "unit", "", "Unit of the column's values; '' when it has none."),
    ("data_dictionary", "meaning", "", "What the column holds, with its NULL rule."),
)
_COPY_ALL = ("meta", "joint_names")  # small fixed tables: every row
#: rebuilt for each dump; the box's own delivery queue; the box's own record of its dumps (retention)
_NEVER_COPY = ("data_dictionary", "mqtt_outbox", "session_dumps")
SHA256_SUFFIX = ".sha256"


@dataclass(frozen=True)
class DumpResult:
    session_id: str  # the uid
    path: Path
    sha256: str
    bytes: int
    frames: int
    elapsed_s: float


def check_uid_for_file_name(uid: str) -> None:
    """A uid names files (<uid>.sqlite): refuse one that would escape the folder or hide itself."""
    if not uid or uid.startswith(".") or not re.fullmatch(r"[^/\\\x00]+", uid):
        raise AgmaError(f"session uid {uid!r} cannot name a file")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_session(conn: sqlite3.Connection, uid: str, db_path: Path) -> tuple[int, dict[str, str]]:
    """In one transaction: create the source's schema in main and copy the session's rows.

    Returns the number of frames and the meta rows to add (dump_continues_session_uid).
    """
    conn.execute("BEGIN")
    try:
        s = find_session(conn, uid, db_path, schema="src")
        objects = conn.execute("SELECT type, name, sql FROM src.sqlite_master WHERE sql IS NOT NULL "
                               "AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall()
        tables = [(n, sql) for t, n, sql in objects if t == "table" and n not in _NEVER_COPY]
        for _, sql in tables:
            conn.execute(sql)
        end_ns = s.ended_at_ns if s.ended_at_ns is not None else (1 << 63) - 1
        for name, _ in tables:
            cols = [r[1] for r in conn.execute(f"PRAGMA src.table_info({_q(name)})")]
            where, params = _row_filter(name, cols, s, end_ns)
            if where is None:
                log.warning("dump: table %s has no session_id column; copied empty", name)
                continue
            collist = ", ".join(map(_q, cols))
            conn.execute(f"INSERT INTO main.{_q(name)} ({collist}) SELECT {collist} FROM src.{_q(name)} WHERE {where}",
                         params)
        for t, n, sql in objects:  # after the rows: indexes are built once, views need their tables
            if t in ("index", "view", "trigger") and n not in _NEVER_COPY:
                conn.execute(sql)
        frames = conn.execute("SELECT COUNT(*) FROM main.frames").fetchone()[0]
        extra_meta = {}
        if "continues_session" in [r[1] for r in conn.execute("PRAGMA main.table_info(sessions)")]:
            # an id of the box's database means nothing in a dump on its own: name the session it continues
            prev = conn.execute("SELECT p.uid FROM main.sessions AS s JOIN src.sessions AS p ON p.id = s.continues_session"
                                ).fetchone()
            if prev:
                extra_meta["dump_continues_session_uid"] = prev[0]
        conn.execute("COMMIT")
    except BaseException:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return frames, extra_meta


def _row_filter(table: str, cols: list[str], s, end_ns: int) -> tuple[str | None, tuple]:
    if table in _COPY_ALL:
        return "1", ()
    if table == "sessions":
        return "id = ?", (s.id,)
    if table == "calibrations":
        return "id = ?", (s.calibration_id,)
    if table == "events":  # the session's own events, and box-level ones while it ran
        return "session_id = ? OR (session_id IS NULL AND t_ns BETWEEN ? AND ?)", (s.id, s.started_at_ns, end_ns)
    if "session_id" in cols:
        return "session_id = ?", (s.id,)
    return None, ()


def _add_dictionary(conn: sqlite3.Connection, uid: str, extra_meta: dict[str, str]) -> None:
    conn.execute("BEGIN")
    conn.execute(DATA_DICTIONARY_DDL)
    present: dict[str, list[str]] = {}
    for name, in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                              "AND name NOT LIKE 'sqlite_%' AND name != 'data_dictionary'").fetchall():
        present[name] = [r[1] for r in conn.execute(f"PRAGMA table_info({_q(name)})")]
    documented = {(t, c): (u, m) for t, c, u, m in data_dictionary_rows()}
    rows = list(_SELF_DOC)
    for table, cols in present.items():
        for c in cols:
            unit, meaning = documented.get((table, c), ("", f"Not documented by agma {__version__}."))
            rows.append((table, c, unit, meaning))
    conn.executemany("INSERT INTO data_dictionary VALUES (?, ?, ?, ?)", rows)
    if "meta" in present:
        conn.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                         [("dump_session_uid", uid), ("dump_software_version", __version__), *extra_meta.items()])
    conn.execute("COMMIT")


def _remove_stale_temporaries(folder: Path, name: str, older_than_s: float = 3600.0) -> None:
    """Temporaries of an earlier dump to the same name that a crash or kill left behind (dot-names,
    never taken for a dump); a recent one may belong to a dump still running, and is left alone."""
    now = time.time()
    for p in list(folder.glob(f".{name}.build-*")) + list(folder.glob(f".{name}.tmp-*")):
        with suppress(OSError):
            if now - p.stat().st_mtime > older_than_s:
                p.unlink()


def dump_session(db_path: Path, uid: str, out_path: Path) -> DumpResult:
    """Write session `uid` of `db_path` to `out_path` (replaced atomically). See the module doc."""
    t0 = time.perf_counter()
    db_path, out_path = Path(db_path), Path(out_path)
    open_readonly(db_path).close()  # a clear error for a missing or foreign file
    if out_path.resolve() in {db_path.resolve(), *(db_path.resolve().with_name(db_path.name + x) for x in ("-wal", "-shm"))}:
        raise AgmaError(f"refusing to write the dump over the database itself ({db_path})")
    folder = out_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(folder, out_path.name)
    tag = secrets.token_hex(4)
    scratch = folder / f".{out_path.name}.build-{tag}"
    tmp = folder / f".{out_path.name}.tmp-{tag}"
    try:
        conn = sqlite3.connect(scratch, isolation_level=None, uri=True)  # uri: the ATTACH below is a file: URI
        try:
            conn.execute("PRAGMA journal_mode = OFF")  # scratch only: never seen, deleted below
            conn.execute("PRAGMA synchronous = OFF")
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute("ATTACH DATABASE ? AS src", (readonly_uri(db_path),))
            with reading(db_path):  # a damaged page of the source met: one line, no dump (store/integrity.py)
                frames, extra_meta = _copy_session(conn, uid, db_path)
            conn.execute("DETACH DATABASE src")
            _add_dictionary(conn, uid, extra_meta)
            conn.execute("VACUUM INTO ?", (str(tmp),))
        finally:
            conn.close()
        _check_dump(tmp, uid)
        fsync_file(tmp)
        digest = sha256_file(tmp)
        os.replace(tmp, out_path)
        fsync_dir(folder)
    finally:
        for p in (scratch, tmp):
            with suppress(FileNotFoundError):
                p.unlink()
    elapsed = time.perf_counter() - t0
    size = out_path.stat().st_size
    log.info("dump %s: %d frames, %.1f MB in %.2f s -> %s", uid, frames, size / 1e6, elapsed, out_path)
    return DumpResult(session_id=uid, path=out_path, sha256=digest, bytes=size, frames=frames, elapsed_s=elapsed)


def _check_dump(path: Path, uid: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if mode.lower() != "delete":  # one self-contained file, readable from read-only media
            conn.execute("PRAGMA journal_mode = DELETE")
        result = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        uids = [r[0] for r in conn.execute("SELECT uid FROM sessions")]
    finally:
        conn.close()
    if result != ["ok"]:
        raise AgmaError(f"dump of {uid} failed integrity_check: {'; '.join(result[:5])}")
    if uids != [uid]:
        raise AgmaError(f"dump of {uid} holds sessions {uids}, expected exactly [{uid!r}]")


def sha256_sidecar(path: Path) -> Path:
    return path.with_name(path.name + SHA256_SUFFIX)


def write_sha256_sidecar(path: Path, digest: str) -> Path:
    """<file>.sha256 in sha256sum's format (`sha256sum -c` checks it), written under a temporary name and renamed."""
    side = sha256_sidecar(path)
    tmp = side.with_name(f".{side.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{digest}  {path.name}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, side)
    finally:
        with suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(path.parent)
    return side


def read_sha256_sidecar(path: Path) -> str | None:
    """The digest recorded beside `path`, or None when there is no readable sidecar."""
    try:
        text = sha256_sidecar(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    return text[0].lower() if text and re.fullmatch(r"[0-9a-fA-F]{64}", text[0]) else None


def write_pending_dump(db_path: Path, session_uid: str, dump_dir: Path) -> Path:
    """A finished session's dump, waiting to be pulled: <dump_dir>/<uid>.sqlite, then <uid>.sqlite.sha256.

    Both appear under their final names only complete (temporary dot-names, then rename), the
    .sha256 last: a puller takes a dump once its .sha256 is there. Returns the .sqlite path.
    """
    check_uid_for_file_name(session_uid)
    dump_dir = Path(dump_dir)
    path = dump_dir / f"{session_uid}.sqlite"
    with suppress(FileNotFoundError):  # an older sidecar must never vouch for the new file
        sha256_sidecar(path).unlink()
    result = dump_session(db_path, session_uid, path)
    write_sha256_sidecar(path, result.sha256)
    return path


def dump_is_present(path: Path) -> bool:
    """True when `path` and its .sha256 exist and the file's sha256 is the recorded one."""
    recorded = read_sha256_sidecar(path)
    return recorded is not None and path.is_file() and sha256_file(path) == recorded


@dataclass(frozen=True)
class NewDumpOutcome:
    session_id: str
    path: Path
    status: str  # written | present | failed
    sha256: str  # '' when failed
    elapsed_s: float
    error: str | None = None  # failed: why, in one line


def dump_new(db_path: Path, out_dir: Path, verify: bool = True, not_pulled: bool = False) -> list[NewDumpOutcome]:
    """Dump every closed session whose dump is not already in out_dir with a matching sha256.

    One bad dump never stops the others: a session whose dump fails (a uid that cannot name a
    file, a damaged page of its rows, a full output disk) is a ``failed`` outcome with its
    one-line reason, its temporaries removed, and the next session is dumped.

    verify=False trusts a dump whose .sha256 is there without re-reading it: right for the box's own
    dump folder (files there only ever appear complete), e.g. to catch up at start-up on sessions
    closed by crash recovery; a USB stick or a copy made by someone else needs verify=True.

    not_pulled: leave out the sessions whose dump already counts as pulled (session_dumps, store/
    retention.py: acknowledged, or removed from store.dump_dir by the puller), so that a puller that
    empties ``out_dir`` after each pull is not handed the same sessions again.
    """
    conn = open_readonly(db_path)
    try:
        with reading(db_path):
            has_record = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session_dumps'"
                                      ).fetchone() is not None  # a file older than schema version 6: none pulled
            skip = (" AND id NOT IN (SELECT session_id FROM session_dumps WHERE pulled_at_ns IS NOT NULL)"
                    if not_pulled and has_record else "")
            uids = [r[0] for r in conn.execute(
                f"SELECT uid FROM sessions WHERE end_reason IS NOT NULL{skip} ORDER BY started_at_ns, id")]
    finally:
        conn.close()
    out = []
    for uid in uids:
        path = Path(out_dir) / f"{uid}.sqlite"
        t0 = time.perf_counter()
        try:
            check_uid_for_file_name(uid)
            recorded = read_sha256_sidecar(path)
            if recorded is not None and path.is_file() and (not verify or sha256_file(path) == recorded):
                out.append(NewDumpOutcome(uid, path, "present", recorded, time.perf_counter() - t0))
                continue
            write_pending_dump(db_path, uid, out_dir)
        except Exception as exc:  # this session's dump only: say why, go on with the next
            reason = str(exc) if isinstance(exc, AgmaError) else f"{type(exc).__name__}: {exc}"
            log.debug("dump --new: session %s failed", uid, exc_info=True)
            out.append(NewDumpOutcome(uid, path, "failed", "", time.perf_counter() - t0,
                                      " ".join(reason.split())))  # one line
            continue
        out.append(NewDumpOutcome(uid, path, "written", read_sha256_sidecar(path) or "", time.perf_counter() - t0))
    return out


def pending_dump_dir(cfg) -> Path | None:
    """Where finished sessions' dumps wait (config store.dump_dir): '' -> <db folder>/dumps, 'off' -> None."""
    value = cfg["store.dump_dir"]
    if value == "off":
        return None
    return Path(value).expanduser() if value else cfg.db_path.parent / "dumps"
