"""The free-space check failing with EIO mid-session ends the session as error, within seconds.

After every commit the writer reads the free space (os.statvfs). When the disk goes away (a USB
stick pulled, an I/O error) statvfs raises EIO: the writer thread used to end with its error
unset, and the recorder then waited for ever on the next flush, a recording that silently stops
while the box looks alive. Now the writer fails loudly: `agma record` (live, as on the box)
ends by itself, exit 1, one line naming the cause; every committed frame is kept, the row closed
as error at the last committed frame (on a fresh connection: the writer's thread is gone).
"""
from __future__ import annotations

from tests.store.writer_failure import check_ended_as_error, record_with_fault


def test_statvfs_eio_ends_the_session_as_error(tmp_path):
    db = tmp_path / "eio.sqlite"
    # statvfs answers the start check, the writer's open and a few commits, then fails for ever
    proc = record_with_fault(db, {"FAULT_STATVFS_EIO_AFTER": "8"}, "--duration", "60")
    summary = check_ended_as_error(proc, db, "Input/output error")
    assert "the free-space check failed" in summary["error"]
    assert summary["frames"] < 60 * 30  # it ended early, by the failure, not by its duration
