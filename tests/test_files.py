"""appliance.files: one durability rule for every file the box promises to keep.

Four writers (dumps, replay folders, migration backups, the CUDA cubin cache) used to differ on
whether a folder that cannot be opened for fsync is an error: two ignored it, one raised, one
never fsynced. Now one helper decides, as its docstring states: every failure to open or fsync
the folder raises OSError naming it (the caller must not report a durable file it cannot vouch
for), except a filesystem that does not implement fsync on a folder (EINVAL and its kin), where
the rename is as durable as that filesystem makes it.
"""
from __future__ import annotations

import errno
import os

import pytest

from appliance import files


def test_fsync_dir_of_a_real_folder(tmp_path):
    (tmp_path / "a").write_bytes(b"x")
    assert files.fsync_dir(tmp_path) is None


def test_unopenable_folder_is_an_error_naming_it(tmp_path):
    missing = tmp_path / "gone"
    with pytest.raises(FileNotFoundError) as exc:
        files.fsync_dir(missing)
    assert exc.value.filename == str(missing)
    a_file = tmp_path / "plain.txt"
    a_file.write_text("not a folder")
    with pytest.raises(NotADirectoryError):
        files.fsync_dir(a_file)


def test_filesystem_without_folder_fsync_is_accepted():
    """procfs implements no fsync on folders: a real EINVAL, taken as 'nothing more can be done'."""
    fd = os.open("/proc", os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as exc:
            os.fsync(fd)
    finally:
        os.close(fd)
    assert exc.value.errno in files.DIR_FSYNC_UNSUPPORTED  # the premise, on this kernel
    assert files.fsync_dir("/proc") is None


def test_fsync_io_error_is_raised_with_the_folder(tmp_path, monkeypatch):
    """EIO from fsync (a disk going away) is data possibly lost: raised, naming the folder.

    The only fault injected here: a real EIO needs a failing device, which this machine has not.
    """
    def eio(fd):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(files.os, "fsync", eio)
    with pytest.raises(OSError) as exc:
        files.fsync_dir(tmp_path)
    assert exc.value.errno == errno.EIO and exc.value.filename == str(tmp_path)
    assert "cannot fsync folder" in str(exc.value)


def test_atomic_write_replaces_whole_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "cache.bin"
    files.atomic_write(target, b"old")
    assert files.atomic_write(target, b"new contents") == target
    assert target.read_bytes() == b"new contents"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.bin"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "cache.bin"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        files.atomic_write(target, "text, not bytes")  # fails while writing the temporary file
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.bin"]


def test_atomic_write_into_a_missing_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        files.atomic_write(tmp_path / "no" / "such" / "f.bin", b"x")
    assert list(tmp_path.iterdir()) == []


def test_fsync_file(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x")
    assert files.fsync_file(f) is None
    with pytest.raises(FileNotFoundError):
        files.fsync_file(tmp_path / "missing")


def test_the_four_writers_use_this_rule():
    """Dumps, replay folders, migration backups and the cubin cache call these helpers, not copies of their own."""
    from appliance.capture import replay
    from appliance.pose.cuda import build as cuda_build
    from appliance.store import dump, migrations

    assert dump.fsync_dir is replay.fsync_dir is migrations.fsync_dir is files.fsync_dir
    assert dump.fsync_file is replay.fsync_file is migrations.fsync_file is files.fsync_file
    assert cuda_build.atomic_write is files.atomic_write
    for module in (dump, replay, migrations, cuda_build):
        assert not hasattr(module, "_fsync_dir") and not hasattr(module, "_atomic_write"), module.__name__
