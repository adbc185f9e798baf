"""Test helper: write PyTorch ``.pth`` files (zip and legacy formats) without PyTorch.

A tiny protocol-2 pickle emitter (no memo, no framing) that writes the same opcodes
``torch.save`` does for state dicts: ``GLOBAL torch._utils _rebuild_tensor_v2``, storages as
persistent ids, ``collections.OrderedDict`` for backward hooks. It can also emit any global and
REDUCE, which the tests use to craft malicious files. Nothing here imports torch.

Also: :func:`official_hrnet_shapes`, the state-dict layout of the official PoseHighResolutionNet
(``lib/models/pose_hrnet.py`` with the w32_384x288 MODEL.EXTRA), written out independently of
``appliance.pose.export.hrnet_onnx`` so the tests compare two derivations, and the fixture checks this one.
"""
from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

STORAGE_NAMES = {
    np.dtype("float32"): "FloatStorage",
    np.dtype("float64"): "DoubleStorage",
    np.dtype("float16"): "HalfStorage",
    np.dtype("int64"): "LongStorage",
    np.dtype("int32"): "IntStorage",
    np.dtype("int16"): "ShortStorage",
    np.dtype("int8"): "CharStorage",
    np.dtype("uint8"): "ByteStorage",
    np.dtype("bool"): "BoolStorage",
}


@dataclass(frozen=True)
class Global:
    """A ``GLOBAL module name`` opcode."""

    module: str
    name: str


@dataclass(frozen=True)
class Call:
    """``fn(*args)`` through REDUCE; ``state`` (if not None) is applied with BUILD."""

    fn: Any
    args: tuple = ()
    state: Any = None


@dataclass(frozen=True)
class Build:
    """``obj`` then ``state`` and the BUILD opcode (what __setstate__ / __dict__ updates use)."""

    obj: Any
    state: Any


@dataclass(frozen=True)
class PersId:
    """A persistent id (BINPERSID) whose payload is ``obj``."""

    obj: Any


@dataclass
class Tensor:
    """A tensor view onto a storage: ``storage`` (flat array, dtype of the storage), element
    ``offset``, ``shape`` and ``stride`` (in elements). Several Tensors may share a storage."""

    storage: np.ndarray
    shape: tuple
    stride: tuple
    offset: int = 0
    storage_name: str | None = None  # override the storage class (e.g. "BFloat16Storage")

    @classmethod
    def of(cls, array: np.ndarray) -> Tensor:
        array = np.array(array, order="C")  # not ascontiguousarray: it makes 0-d arrays 1-d
        stride = tuple(s // array.itemsize for s in array.strides) if array.ndim else ()
        return cls(array.reshape(-1), tuple(array.shape), stride)


def _emit(obj: Any, out: bytearray, persist) -> None:
    if isinstance(obj, np.ndarray):
        obj = Tensor.of(obj)
    if isinstance(obj, Tensor):
        obj = persist(obj)
    if obj is None:
        out += b"N"
    elif obj is True:
        out += b"\x88"
    elif obj is False:
        out += b"\x89"
    elif isinstance(obj, int):
        if -(2 ** 31) <= obj < 2 ** 31:
            out += b"J" + struct.pack("<i", obj)
        else:
            raw = obj.to_bytes((obj.bit_length() + 8) // 8, "little", signed=True)
            out += b"\x8a" + bytes([len(raw)]) + raw
    elif isinstance(obj, float):
        out += b"G" + struct.pack(">d", obj)
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        out += b"X" + struct.pack("<I", len(raw)) + raw
    elif isinstance(obj, tuple):
        if not obj:
            out += b")"
        else:
            out += b"("
            for item in obj:
                _emit(item, out, persist)
            out += b"t"
    elif isinstance(obj, list):
        out += b"]"
        if obj:
            out += b"("
            for item in obj:
                _emit(item, out, persist)
            out += b"e"
    elif isinstance(obj, dict):
        out += b"}"
        if obj:
            out += b"("
            for key, value in obj.items():
                _emit(key, out, persist)
                _emit(value, out, persist)
            out += b"u"
    elif isinstance(obj, Global):
        out += b"c" + obj.module.encode() + b"\n" + obj.name.encode() + b"\n"
    elif isinstance(obj, Call):
        _emit(obj.fn, out, persist)
        _emit(tuple(obj.args), out, persist)
        out += b"R"
        if obj.state is not None:
            _emit(obj.state, out, persist)
            out += b"b"
    elif isinstance(obj, Build):
        _emit(obj.obj, out, persist)
        _emit(obj.state, out, persist)
        out += b"b"
    elif isinstance(obj, PersId):
        _emit(obj.obj, out, persist)
        out += b"Q"
    else:
        raise TypeError(f"cannot emit {type(obj).__name__}")


def dumps(obj: Any, persist=None) -> bytes:
    """Protocol-2 pickle of ``obj`` (dicts, lists, tuples, str, int, float, bool, None, Global,
    Call, PersId; Tensors/ndarrays through ``persist``)."""
    out = bytearray(b"\x80\x02")

    def no_tensors(t):
        raise TypeError("tensors need a persist callback")

    _emit(obj, out, persist or no_tensors)
    out += b"."
    return bytes(out)


def _rebuild(pid: PersId, t: Tensor) -> Call:
    return Call(Global("torch._utils", "_rebuild_tensor_v2"),
                (pid, t.offset, tuple(t.shape), tuple(t.stride), False,
                 Call(Global("collections", "OrderedDict"), ())))


@dataclass
class _Storages:
    """Storages in order of first use, keyed by the identity of their flat array."""

    keys: dict[int, str] = field(default_factory=dict)
    arrays: list[tuple[str, np.ndarray, str]] = field(default_factory=list)

    def key_for(self, t: Tensor, prefix: str = "") -> tuple[str, str]:
        name = t.storage_name or STORAGE_NAMES[t.storage.dtype]
        ident = id(t.storage)
        if ident not in self.keys:
            self.keys[ident] = prefix + str(len(self.arrays))
            self.arrays.append((self.keys[ident], t.storage, name))
        return self.keys[ident], name


def write_zip(path: str | Path, obj: Any, archive: str = "archive", byteorder: str = "little",
              records: bool = True) -> Path:
    """Write ``obj`` like ``torch.save`` (PyTorch >= 1.6 zip format). ``records=False`` leaves
    the storage records out (a broken file)."""
    path = Path(path)
    storages = _Storages()

    def persist(t: Tensor) -> Call:
        key, name = storages.key_for(t)
        return _rebuild(PersId(("storage", Global("torch", name), key, "cpu", t.storage.size)), t)

    pkl = dumps(obj, persist)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{archive}/data.pkl", pkl)
        zf.writestr(f"{archive}/byteorder", byteorder)
        if records:
            for key, array, _ in storages.arrays:
                dt = array.dtype.newbyteorder("<" if byteorder == "little" else ">")
                zf.writestr(f"{archive}/data/{key}", np.ascontiguousarray(array, dtype=dt).tobytes())
        zf.writestr(f"{archive}/version", "3\n")
    return path


def write_legacy(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` like ``torch.save(..., _use_new_zipfile_serialization=False)`` (the
    pre-1.6 format): five pickles, then each storage as int64 element count + raw bytes."""
    path = Path(path)
    storages = _Storages()

    def persist(t: Tensor) -> Call:
        key, name = storages.key_for(t, prefix="9430879")
        return _rebuild(PersId(("storage", Global("torch", name), key, "cpu", t.storage.size, None)), t)

    main = dumps(obj, persist)
    sys_info = {"protocol_version": 1001, "little_endian": True,
                "type_sizes": {"short": 2, "int": 4, "long": 4}}
    with open(path, "wb") as fh:
        fh.write(dumps(LEGACY_MAGIC))
        fh.write(dumps(1001))
        fh.write(dumps(sys_info))
        fh.write(main)
        fh.write(dumps([key for key, _, _ in storages.arrays]))
        for _, array, _ in storages.arrays:
            fh.write(struct.pack("<q", array.size))
            fh.write(np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes())
    return path


# ---------------------------------------------------------------------------------------------
# The official HRNet state-dict layout, derived independently of the product code
# ---------------------------------------------------------------------------------------------


def official_hrnet_shapes(width: int, joints: int = 17) -> dict[str, tuple]:
    """Key -> shape of ``PoseHighResolutionNet(cfg).state_dict()`` for the w32_384x288 config
    with branch widths width * (1, 2, 4, 8), in module registration order."""
    shapes: dict[str, tuple] = {}
    ch = [width * 2 ** b for b in range(4)]

    def conv(name, cout, cin, k):
        shapes[name + ".weight"] = (cout, cin, k, k)

    def bn(name, c):
        for s in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.{s}"] = (c,)
        shapes[f"{name}.num_batches_tracked"] = ()

    conv("conv1", 64, 3, 3); bn("bn1", 64)
    conv("conv2", 64, 64, 3); bn("bn2", 64)
    for i in range(4):
        p, cin = f"layer1.{i}", 64 if i == 0 else 256
        conv(p + ".conv1", 64, cin, 1); bn(p + ".bn1", 64)
        conv(p + ".conv2", 64, 64, 3); bn(p + ".bn2", 64)
        conv(p + ".conv3", 256, 64, 1); bn(p + ".bn3", 256)
        if i == 0:
            conv(p + ".downsample.0", 256, 64, 1); bn(p + ".downsample.1", 256)
    # transition1: 256 -> ch0 (stride 1), 256 -> ch1 (stride 2)
    conv("transition1.0.0", ch[0], 256, 3); bn("transition1.0.1", ch[0])
    conv("transition1.1.0.0", ch[1], 256, 3); bn("transition1.1.0.1", ch[1])

    def stage(s, modules, nb):
        for m in range(modules):
            p = f"stage{s}.{m}"
            for b in range(nb):
                for k in range(4):
                    q = f"{p}.branches.{b}.{k}"
                    conv(q + ".conv1", ch[b], ch[b], 3); bn(q + ".bn1", ch[b])
                    conv(q + ".conv2", ch[b], ch[b], 3); bn(q + ".bn2", ch[b])
            outs = 1 if (s == 4 and m == modules - 1) else nb
            for i in range(outs):
                for j in range(nb):
                    f = f"{p}.fuse_layers.{i}.{j}"
                    if j > i:
                        conv(f + ".0", ch[i], ch[j], 1); bn(f + ".1", ch[i])
                    elif j < i:
                        for k in range(i - j):
                            cout = ch[i] if k == i - j - 1 else ch[j]
                            conv(f"{f}.{k}.0", cout, ch[j], 3); bn(f"{f}.{k}.1", cout)

    stage(2, 1, 2)
    conv("transition2.2.0.0", ch[2], ch[1], 3); bn("transition2.2.0.1", ch[2])
    stage(3, 4, 3)
    conv("transition3.3.0.0", ch[3], ch[2], 3); bn("transition3.3.0.1", ch[3])
    stage(4, 3, 4)
    shapes["final_layer.weight"] = (joints, ch[0], 1, 1)
    shapes["final_layer.bias"] = (joints,)
    return shapes


def learnable_count(shapes: dict[str, tuple]) -> int:
    """Parameters before BatchNorm folding: weights and biases, not running statistics."""
    return sum(int(np.prod(s)) for k, s in shapes.items() if k.endswith((".weight", ".bias")))


def random_state_dict(shapes: dict[str, tuple], seed: int = 0) -> dict[str, np.ndarray]:
    """A plausible state dict: small random weights, positive running variances."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            state[key] = np.array(7, dtype=np.int64)
        elif key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            state[key] = (rng.standard_normal(shape, dtype=np.float32) * 0.05)
    return state
