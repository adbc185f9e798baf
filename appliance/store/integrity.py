"""Is the database file intact? The recorder's check before it writes, and the readers' one line.

A damaged file (pages overwritten by another program, a failing disk, a bad copy) must never be
appended to: new rows go into a b-tree whose pages cannot be trusted, and the damage spreads.
So the writer runs ``PRAGMA quick_check`` (every page's structure, the b-trees' shape, the
record formats; not the index contents, which ``integrity_check`` adds) before it writes
anything (``check_before_writing``) and refuses a damaged file with one line that says what to
do; the file is left exactly as it was. The check runs on a read-only connection, so it never
writes, never runs a checkpoint, and leaves the file's bytes unchanged. Its cost grows with the
file: measured on the development machine (x86-64, virtio disk) on a 1.41 GB database (614,400
frames with ground truth, about 5.7 h at 30 fps): 6.0 s with the file in the page cache, 31 s
from the disk (docs/durability.md).

Readers (``agma sessions``, ``dump``, ``export``) do not check the whole file: SQLite checks
every page it reads, so a damaged page a reader meets raises SQLITE_CORRUPT, which
``reading`` turns into the same one line (``DatabaseDamaged``). A reader that never touches the
damaged part works, so the intact sessions of a damaged file can still be dumped.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AgmaError
from .listing import readonly_uri  # listing imports this module lazily (open_readonly)

#: At most this many problems are listed by quick_check (the first is named in the message).
MAX_PROBLEMS = 10


class DatabaseDamaged(AgmaError):
    """The database file is damaged: nothing is written to it; one line says how to recover (exit 1)."""


def recovered_path(db_path: Path) -> Path:
    """Where the advice puts the recovered copy: <stem>.recovered<suffix> beside the file."""
    p = Path(db_path)
    return p.with_name(f"{p.stem}.recovered{p.suffix or '.sqlite'}")


def recover_advice(db_path: Path) -> str:
    return f"`sqlite3 {db_path} .recover | sqlite3 {recovered_path(db_path)}`"


def is_damage(exc: BaseException) -> bool:
    """SQLITE_CORRUPT ('database disk image is malformed') or SQLITE_NOTADB ('file is not a database').

    Python maps both to sqlite3.DatabaseError itself (not a subclass: OperationalError is a busy
    or I/O error, IntegrityError a constraint); Python 3.10 has no sqlite_errorcode, so the fixed
    messages are matched too.
    """
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc)
    return type(exc) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


def damaged(db_path: Path, what: str, writing: bool) -> DatabaseDamaged:
    """The one line: what is wrong, that the file was not changed, and how to get its rows back."""
    if writing:
        return DatabaseDamaged(f"{db_path} is damaged ({what}); nothing was written to it. Recover what it holds "
                               f"with {recover_advice(db_path)}, then record into a new file (--db)")
    return DatabaseDamaged(f"{db_path} is damaged ({what}); recover what it holds with {recover_advice(db_path)} "
                           f"and read that file")


def quick_check(db_path: Path, conn: sqlite3.Connection | None = None) -> list[str]:
    """``PRAGMA quick_check`` of the whole file on a read-only connection: ["ok"] or the problems found.

    conn: a read-only connection to db_path to run it on (left open; `agma doctor`'s, which creates
    no -wal/-shm: listing.untouched_uri); None: one of its own. Raises sqlite3.DatabaseError when
    the file cannot be read as a database at all.
    """
    own = conn is None
    if conn is None:
        conn = sqlite3.connect(readonly_uri(db_path), uri=True, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        return [r[0] for r in conn.execute(f"PRAGMA quick_check({MAX_PROBLEMS})")]
    finally:
        if own:
            conn.close()


def check_before_writing(db_path: Path) -> None:
    """Refuse (DatabaseDamaged, one line; the file untouched) a file quick_check does not find ok.

    A missing or empty file is a new database: nothing to check.
    """
    p = Path(db_path)
    if not p.exists() or p.stat().st_size == 0:
        return
    try:
        problems = quick_check(p)
    except sqlite3.DatabaseError as exc:
        if is_damage(exc) and "not a database" in str(exc):
            raise AgmaError(f"{p}: cannot read it as an SQLite database ({exc}); nothing was changed") from None
        if is_damage(exc):
            raise damaged(p, f"quick_check: {exc}", writing=True) from None
        raise
    if problems != ["ok"]:
        more = f", and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise damaged(p, f"quick_check: {problems[0]}{more}", writing=True)


@contextmanager
def reading(db_path: Path) -> Iterator[None]:
    """Inside: a damaged page met while reading db_path becomes one line (DatabaseDamaged)."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        if not is_damage(exc):
            raise
        raise damaged(db_path, str(exc), writing=False) from None
