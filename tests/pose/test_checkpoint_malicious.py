"""A crafted checkpoint cannot run code: every global outside the allow-list is refused before
it is called.

A .pth is a pickle, and a pickle can call any importable function (os.system, eval, ...);
IT downloads checkpoints from the internet, so reading one must never execute its payload.
Each case writes a payload that would create a marker file, and checks that the file does not
exist afterwards and that the error names the refused global.
"""
from __future__ import annotations

import os
import pickle
import zipfile

import numpy as np
import pytest

from appliance.pose.export.checkpoint import CheckpointError, load_checkpoint, read_state_dict
from tests.pose.pth_writer import Call, Global, PersId, dumps, write_zip


class _Payload:
    """What an attacker pickles: os.system on unpickling (the standard library's way)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _zip_with_pickle(path, pkl: bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/version", "3\n")
    return path


def _legacy_with_pickle(path, pkl: bytes):
    with open(path, "wb") as fh:
        fh.write(dumps(0x1950A86A20F9469CFC6C) + dumps(1001) + dumps({"little_endian": True}))
        fh.write(pkl + dumps([]))
    return path


def _payloads(marker):
    system = Call(Global("os", "system"), (f"touch {marker}",))
    return {
        "os.system": dumps(system),
        "nested_in_state_dict": dumps({"state_dict": {"conv.weight": system}}),
        "posix.system_protocol4": pickle.dumps({"w": _Payload(marker)}, protocol=4),
        "builtins.eval": dumps(Call(Global("builtins", "eval"),
                                    (f"open({str(marker)!r}, 'w').close()",))),
        "posix.system_protocol0": pickle.dumps(_Payload(marker), protocol=0),
        "subprocess.Popen": dumps(Call(Global("subprocess", "Popen"), (["touch", str(marker)],))),
        "torch.load_not_allowed": dumps(Call(Global("torch", "load"), (str(marker),))),
        "torch_like_name_in_storage": dumps(Call(
            Global("torch._utils", "_rebuild_tensor_v2"),
            (PersId(("storage", Global("os", "system"), "0", "cpu", 1)), 0, (1,), (1,), False, None))),
    }


@pytest.mark.parametrize("container", ["zip", "legacy"])
@pytest.mark.parametrize("case", list(_payloads("m")))
def test_payload_is_refused_and_not_run(tmp_path, container, case):
    marker = tmp_path / "pwned"
    pkl = _payloads(marker)[case]
    build = _zip_with_pickle if container == "zip" else _legacy_with_pickle
    path = build(tmp_path / f"{case}.pth", pkl)
    with pytest.raises(CheckpointError, match=r"refused to load global '[\w.]+\.[\w]+'.*nothing was executed"):
        load_checkpoint(path)
    assert not marker.exists(), "the payload ran"


def test_payload_in_the_legacy_header_is_refused(tmp_path):
    """The system-info pickle before the object is read through the same restricted unpickler."""
    marker = tmp_path / "pwned"
    path = tmp_path / "header.pth"
    with open(path, "wb") as fh:
        fh.write(dumps(0x1950A86A20F9469CFC6C) + dumps(1001))
        fh.write(dumps(Call(Global("os", "system"), (f"touch {marker}",))))
    with pytest.raises(CheckpointError, match="os.system"):
        load_checkpoint(path)
    assert not marker.exists()


def test_payload_beside_real_weights(tmp_path):
    """A genuine state dict with one poisoned extra entry is refused as a whole."""
    marker = tmp_path / "pwned"
    obj = {"state_dict": {"w": np.ones(3, np.float32)},
           "extra": Call(Global("os", "system"), (f"touch {marker}",))}
    with pytest.raises(CheckpointError, match="os.system"):
        read_state_dict(write_zip(tmp_path / "c.pth", obj))
    assert not marker.exists()


def test_allowed_names_with_bad_arguments_are_refused(tmp_path):
    """Allowed constructors validate their arguments: a tensor that is not built on a
    checkpoint storage, or an OrderedDict called with a payload, is refused."""
    cases = [
        Call(Global("torch._utils", "_rebuild_tensor_v2"), ("not a storage", 0, (1,), (1,), False, None)),
        Call(Global("collections", "OrderedDict"), ([("k", 1)],)),
        Call(Global("numpy", "dtype"), ("O", False, True)),  # object arrays could hold anything
    ]
    for i, obj in enumerate(cases):
        with pytest.raises(CheckpointError, match="refused"):
            load_checkpoint(write_zip(tmp_path / f"{i}.pth", {"x": obj}))


def test_tensor_reading_outside_its_storage_is_refused(tmp_path):
    """Size/stride that would read past the storage (memory disclosure) is refused."""
    storage = PersId(("storage", Global("torch", "FloatStorage"), "0", "cpu", 4))
    obj = {"w": Call(Global("torch._utils", "_rebuild_tensor_v2"),
                     (storage, 2, (4,), (1,), False, Call(Global("collections", "OrderedDict"), ())))}
    path = tmp_path / "oob.pth"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", dumps(obj))
        zf.writestr("archive/data/0", np.zeros(4, np.float32).tobytes())
    with pytest.raises(CheckpointError, match="reads past the end of storage 0"):
        load_checkpoint(path)


def test_build_opcode_cannot_modify_the_reader(tmp_path):
    """BUILD (setstate / attribute writes) on an allowed constructor, a storage type or a tensor
    is refused: a file must not alter the reader's own objects for later loads, nor a tensor's
    checked offset/shape after the fact."""
    from tests.pose.pth_writer import Build

    rebuild = Global("torch._utils", "_rebuild_tensor_v2")
    tensor = Call(rebuild, (PersId(("storage", Global("torch", "FloatStorage"), "0", "cpu", 4)),
                            0, (4,), (1,), False, None))
    cases = {
        "function_defaults": Build(Global("collections", "OrderedDict"), (None, {"__defaults__": (1,)})),
        "function_dict": Build(Global("_codecs", "encode"), {"evil": 1}),
        "storage_type": Build(Global("torch", "FloatStorage"), {"itemsize": 1}),
        "tensor_offset": Build(tensor, {"offset": 10 ** 9}),
    }
    for name, obj in cases.items():
        path = tmp_path / f"{name}.pth"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", dumps({"x": obj}))
            zf.writestr("archive/data/0", np.zeros(4, np.float32).tobytes())
        with pytest.raises(CheckpointError, match="refused: the file tried to modify"):
            load_checkpoint(path)
    # and the reader still works afterwards
    assert load_checkpoint(write_zip(tmp_path / "ok.pth", {"w": np.ones(2, np.float32)}))["w"].tolist() == [1, 1]
