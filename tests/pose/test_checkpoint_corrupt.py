"""Damaged files are refused with a message that names the problem, never a traceback.

A download cut short, a file that is not a checkpoint, a zip missing a storage record or a
legacy file whose storage sizes disagree must each give one clear CheckpointError (exit 1 on
the command line) rather than a half-read model.
"""
from __future__ import annotations

import tarfile

import numpy as np
import pytest

from appliance.pose.export.checkpoint import CheckpointError, load_checkpoint, read_state_dict
from tests.pose.pth_writer import write_legacy, write_zip


def _truncate(src, dst, keep: float):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


@pytest.mark.parametrize("keep", [0.01, 0.5, 0.999])
def test_truncated_zip(fixtures_dir, tmp_path, keep):
    path = _truncate(fixtures_dir / "hrnet_w4_zip.pth", tmp_path / "t.pth", keep)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)


@pytest.mark.parametrize("keep,what", [(0.00005, "corrupt or truncated pickle"),
                                       (0.03, "corrupt or truncated pickle"),
                                       (0.5, "truncated: "),
                                       (0.9999, "truncated: storage")])
def test_truncated_legacy(fixtures_dir, tmp_path, keep, what):
    path = _truncate(fixtures_dir / "hrnet_w4_legacy_wrapped.pth", tmp_path / "t.pth", keep)
    with pytest.raises(CheckpointError, match=what):
        load_checkpoint(path)


def test_empty_and_foreign_files(tmp_path):
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty file"):
        load_checkpoint(tmp_path / "empty.pth")
    (tmp_path / "text.pth").write_text("hello, not a checkpoint\n")
    with pytest.raises(CheckpointError, match="not a PyTorch checkpoint"):
        load_checkpoint(tmp_path / "text.pth")
    with pytest.raises(CheckpointError, match="cannot open"):
        load_checkpoint(tmp_path / "missing.pth")


def test_old_tar_format_is_named(tmp_path):
    """PyTorch < 0.4 wrote a tar archive: refused, saying so."""
    (tmp_path / "pickle").write_bytes(b"\x80\x02N.")
    with tarfile.open(tmp_path / "old.pth", "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(tmp_path / "pickle", arcname="pickle")
    with pytest.raises(CheckpointError, match="tar format"):
        load_checkpoint(tmp_path / "old.pth")


def test_zip_without_storage_records(tmp_path):
    path = write_zip(tmp_path / "c.pth", {"w": np.ones(3, np.float32)}, records=False)
    with pytest.raises(CheckpointError, match="storage record 'archive/data/0' is missing"):
        read_state_dict(path)


def test_legacy_storage_size_mismatch(tmp_path):
    """The element count written before a storage's bytes must match what its tensors expect."""
    path = write_legacy(tmp_path / "c.pth", {"w": np.ones(3, np.float32)})
    data = bytearray(path.read_bytes())
    header = (3).to_bytes(8, "little")
    at = data.rindex(header)
    data[at:at + 8] = (2).to_bytes(8, "little")
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="holds 2 elements, its tensors expect 3"):
        load_checkpoint(path)


def test_huge_claimed_storage_is_refused_without_allocating(tmp_path):
    """A legacy file that claims a 4 TiB storage is refused before any read of that size; a
    zip whose tensors claim more than the cap is refused outright."""
    from tests.pose.pth_writer import Call, Global, PersId, dumps

    numel = 1 << 40
    tensor = Call(Global("torch._utils", "_rebuild_tensor_v2"),
                  (PersId(("storage", Global("torch", "FloatStorage"), "k", "cpu", numel, None)),
                   0, (numel,), (1,), False, None))
    path = tmp_path / "huge.pth"
    with open(path, "wb") as fh:
        fh.write(dumps(0x1950A86A20F9469CFC6C) + dumps(1001) + dumps({"little_endian": True}))
        fh.write(dumps({"w": tensor}) + dumps(["k"]) + numel.to_bytes(8, "little") + b"\0" * 16)
    with pytest.raises(CheckpointError, match=r"truncated: storage k needs 4398046511104 bytes, the file has 16 left"):
        load_checkpoint(path)

    zipped = Call(Global("torch._utils", "_rebuild_tensor_v2"),
                  (PersId(("storage", Global("torch", "FloatStorage"), "0", "cpu", numel)),
                   0, (numel,), (1,), False, None))
    import zipfile

    with zipfile.ZipFile(tmp_path / "huge.zip.pth", "w") as zf:
        zf.writestr("archive/data.pkl", dumps({"w": zipped}))
        zf.writestr("archive/data/0", b"\0" * 16)
    with pytest.raises(CheckpointError, match="refused: tensors larger than"):
        load_checkpoint(tmp_path / "huge.zip.pth")
