"""A commit that fails (an I/O error on the WAL) ends the session as error: frames kept, row closed.

The injected fault makes every COMMIT of the store-writer thread's connection fail, as a
connection does once its file has returned an I/O error. The writer used to note the error and
go on serving calls on that same connection, so closing the session failed too, with a
traceback, and the row was left open. Now the writer fails at the first failed commit (that
batch is lost, never reported stored), every later call fails at once, and the recorder closes
the row on a fresh connection. Offline (--as-fast-as-possible), where the inference thread waits
for room in the writer's queue: it must not wait on a writer that has failed.
"""
from __future__ import annotations

from tests.store.writer_failure import check_ended_as_error, record_with_fault


def test_failed_commit_ends_the_session_as_error(tmp_path):
    db = tmp_path / "commit.sqlite"
    # open_database, recovery and open_session commit first; then a few batches of frames
    proc = record_with_fault(db, {"FAULT_COMMIT_FAILS_AFTER": "8"}, "--duration", "60", "--as-fast-as-possible")
    summary = check_ended_as_error(proc, db, "disk I/O error")
    assert "a commit of " in summary["error"]
    assert summary["frames"] < 60 * 30
    assert summary["dropped_frames"] > 0  # the failed batch: never stored, counted
