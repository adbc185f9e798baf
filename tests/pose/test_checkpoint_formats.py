"""Both .pth container formats read into the same NumPy arrays, without PyTorch.

The official 2019 HRNet checkpoints are in the legacy (pre-1.6) format, anything saved since in
the zip format; the exporter must read both, bit for bit, including dtypes, 0-d tensors,
strided views and storages shared between tensors.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.pose.export.checkpoint import load_checkpoint, read_state_dict
from tests.pose.pth_writer import Tensor, write_legacy, write_zip


def test_fixture_zip_and_legacy_hold_identical_state_dicts(fixtures_dir):
    """The reference zip and legacy-wrapped files (saved by PyTorch) give the same 1,754 arrays."""
    a = read_state_dict(fixtures_dir / "hrnet_w4_zip.pth")
    b = read_state_dict(fixtures_dir / "hrnet_w4_legacy_wrapped.pth")
    assert len(a) == 1754
    assert list(a) == list(b)
    for key in a:
        assert a[key].dtype == b[key].dtype
        np.testing.assert_array_equal(a[key], b[key])
    assert a["conv1.weight"].shape == (64, 3, 3, 3) and a["conv1.weight"].dtype == np.float32
    assert a["bn1.num_batches_tracked"].shape == () and a["bn1.num_batches_tracked"].dtype == np.int64
    assert all(v.flags["C_CONTIGUOUS"] and v.flags["OWNDATA"] for v in a.values())


def test_legacy_wrapper_extras_are_read(fixtures_dir):
    """The training script's extra entries (epoch, perf) come back as plain numbers."""
    obj = load_checkpoint(fixtures_dir / "hrnet_w4_legacy_wrapped.pth")
    assert obj["epoch"] == 14 and obj["perf"] == 0.5
    assert all(k.startswith("module.") for k in obj["state_dict"])


@pytest.mark.parametrize("writer", [write_zip, write_legacy], ids=["zip", "legacy"])
def test_dtypes_scalars_and_views_round_trip(tmp_path, writer):
    """Every dtype a checkpoint may hold, 0-d and empty tensors, a transposed (strided) view
    and two tensors sharing one storage at different offsets are rebuilt exactly."""
    rng = np.random.default_rng(1)
    shared = rng.standard_normal(20).astype(np.float32)
    base = rng.standard_normal((3, 4)).astype(np.float32)
    state = {
        "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "f16": rng.standard_normal(7).astype(np.float16),
        "i64": np.arange(6, dtype=np.int64).reshape(2, 3) - 3,
        "i32": np.array([1, -2, 3], dtype=np.int32),
        "u8": np.array([0, 255, 7], dtype=np.uint8),
        "bool": np.array([True, False, True]),
        "scalar": np.array(42, dtype=np.int64),
        "empty": np.zeros((0, 3), dtype=np.float32),
        "transposed": Tensor(base.reshape(-1), shape=(4, 3), stride=(1, 4)),
        "first_half": Tensor(shared, shape=(2, 5), stride=(5, 1), offset=0),
        "second_half": Tensor(shared, shape=(10,), stride=(1,), offset=10),
    }
    path = writer(tmp_path / "c.pth", state)
    got = read_state_dict(path)
    assert list(got) == list(state)
    for key in ("f32", "f64", "f16", "i64", "i32", "u8", "bool", "scalar", "empty"):
        assert got[key].dtype == state[key].dtype, key
        assert got[key].shape == state[key].shape, key
        np.testing.assert_array_equal(got[key], state[key])
    np.testing.assert_array_equal(got["transposed"], base.T)
    np.testing.assert_array_equal(got["first_half"], shared[:10].reshape(2, 5))
    np.testing.assert_array_equal(got["second_half"], shared[10:])
    assert got["transposed"].flags["C_CONTIGUOUS"]


def test_bfloat16_becomes_float32(tmp_path):
    """bfloat16 (no NumPy dtype) is widened to float32 exactly: its 16 bits are the top half."""
    values = np.array([1.0, -2.5, 3.140625, 0.0], dtype=np.float32)
    raw = (values.view(np.uint32) >> 16).astype(np.int16)  # exact: these values fit bfloat16
    path = write_zip(tmp_path / "bf16.pth",
                     {"w": Tensor(raw, shape=(4,), stride=(1,), storage_name="BFloat16Storage")})
    got = read_state_dict(path)["w"]
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, values)


def test_big_endian_zip(tmp_path):
    """A zip checkpoint whose byteorder record says 'big' is byte-swapped to native order."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    got = read_state_dict(write_zip(tmp_path / "be.pth", {"w": w}, byteorder="big"))["w"]
    np.testing.assert_array_equal(got, w)
    assert got.dtype == np.float32 and got.dtype.byteorder in ("=", "<", "|")
