"""Read PyTorch ``.pth`` checkpoints into NumPy arrays, without PyTorch and without running the file.

A ``.pth`` file is a pickle. Unpickling an untrusted pickle with the standard library runs any
callable it names (``os.system`` and friends), so this module never does that: its unpickler
resolves every global through a short allow-list that maps the names PyTorch writes
(``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``, ``collections.OrderedDict``, …)
to small functions defined here, which only build arrays, dicts and numbers. Any other global
is refused with :class:`CheckpointError` before it is called; nothing from the file is executed.

Two container formats are read:

- **zip** (PyTorch >= 1.6): ``<archive>/data.pkl`` plus one record ``<archive>/data/<key>`` per
  storage, and ``<archive>/byteorder``;
- **legacy** (PyTorch 0.4 - 1.5, the official 2019 HRNet checkpoints): five consecutive pickles
  (magic number, protocol version 1001, system info, the object, the list of storage keys), then
  for every storage key an int64 element count followed by the raw little-endian data.

Tensors come back as C-contiguous NumPy arrays in their own dtype (bfloat16 becomes float32).
:func:`read_state_dict` then unwraps ``{"state_dict": ...}`` / ``{"model": ...}`` wrappers
(extra entries such as ``epoch`` and ``perf`` are ignored) and strips DataParallel's
``module.`` prefixes.
"""
from __future__ import annotations

import io
import os
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from appliance.errors import AgmaError

#: Refuse checkpoints whose tensors add up to more than this (W48 is about 0.25 GiB): a crafted
#: file must not make the reader allocate without bound.
MAX_TENSOR_BYTES = 8 << 30

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

#: Storage class name -> (numpy dtype code, element size in bytes). bfloat16 is read as uint16.
_STORAGE_DTYPES: dict[str, tuple[str, int]] = {
    "FloatStorage": ("f4", 4),
    "DoubleStorage": ("f8", 8),
    "HalfStorage": ("f2", 2),
    "BFloat16Storage": ("bf16", 2),
    "LongStorage": ("i8", 8),
    "IntStorage": ("i4", 4),
    "ShortStorage": ("i2", 2),
    "CharStorage": ("i1", 1),
    "ByteStorage": ("u1", 1),
    "BoolStorage": ("b1", 1),
    "UntypedStorage": ("u1", 1),
}

#: torch dtype attribute name -> the same codes (for ``_rebuild_tensor_v3``'s dtype argument).
_TORCH_DTYPES: dict[str, tuple[str, int]] = {
    "float32": ("f4", 4), "float": ("f4", 4),
    "float64": ("f8", 8), "double": ("f8", 8),
    "float16": ("f2", 2), "half": ("f2", 2),
    "bfloat16": ("bf16", 2),
    "int64": ("i8", 8), "long": ("i8", 8),
    "int32": ("i4", 4), "int": ("i4", 4),
    "int16": ("i2", 2), "short": ("i2", 2),
    "int8": ("i1", 1),
    "uint8": ("u1", 1),
    "bool": ("b1", 1),
}

#: numpy scalar dtypes a checkpoint may carry (e.g. ``perf`` stored as numpy.float64).
_NUMPY_SCALAR_CODES = frozenset(
    {"f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"}
)


class CheckpointError(AgmaError):
    """A checkpoint that cannot be read safely: unsupported, corrupt, truncated or refused."""


# ---------------------------------------------------------------------------------------------
# Objects the restricted unpickler builds
# ---------------------------------------------------------------------------------------------


class _NoBuild:
    """Objects the file must not modify: the pickle BUILD opcode (``__setstate__``, or a write to
    ``__dict__``) on them is refused."""

    __slots__ = ()

    def __setstate__(self, state: object) -> None:
        raise CheckpointError(f"refused: the file tried to modify a {type(self).__name__.lstrip('_')}")


class _SafeCallable(_NoBuild):
    """An allow-listed constructor as the unpickler hands it out (not the bare function, whose
    attributes a BUILD opcode could otherwise change)."""

    __slots__ = ("_fn", "_name")

    def __init__(self, fn: Callable[..., Any], name: str) -> None:
        self._fn = fn
        self._name = name

    def __call__(self, *args: object) -> Any:
        return self._fn(*args)

    def __repr__(self) -> str:
        return f"<allowed {self._name}>"


@dataclass(frozen=True)
class _StorageType(_NoBuild):
    """Stand-in for ``torch.FloatStorage`` & co: only carries the element type."""

    name: str
    code: str
    itemsize: int


@dataclass(frozen=True)
class _TorchDType(_NoBuild):
    """Stand-in for ``torch.float32`` & co."""

    name: str
    code: str
    itemsize: int


class _Storage(_NoBuild):
    """A flat storage: ``numel`` elements of ``code``; ``data`` (bytes) is filled in later
    (immediately for zip files, after the object pickle for legacy files). A legacy view is a
    slice ``[offset, offset + numel)`` of a root storage."""

    def __init__(self, key: str, code: str, itemsize: int, numel: int,
                 root: _Storage | None = None, offset: int = 0) -> None:
        self.key = key
        self.code = code
        self.itemsize = itemsize
        self.numel = numel
        self.root = root
        self.offset = offset
        self.data: bytes | None = None

    def flat(self, little_endian: bool) -> np.ndarray:
        """The storage as a 1-D array of its element type (bfloat16 as raw uint16)."""
        if self.root is not None:
            base = self.root.flat(little_endian)
            if self.offset + self.numel > base.size:
                raise CheckpointError(
                    f"storage view {self.key} ({self.offset}+{self.numel} elements) exceeds its "
                    f"root storage {self.root.key} ({base.size} elements)")
            return base[self.offset:self.offset + self.numel]
        if self.data is None:
            raise CheckpointError(f"storage {self.key} has no data in the file (truncated?)")
        code = "u2" if self.code == "bf16" else self.code
        dtype = np.dtype(code)
        if dtype.itemsize > 1:
            dtype = dtype.newbyteorder("<" if little_endian else ">")
        return np.frombuffer(self.data, dtype=dtype, count=self.numel)


class _LazyTensor(_NoBuild):
    """A tensor whose storage data may arrive after unpickling (legacy format)."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...],
                 stride: tuple[int, ...], code: str | None = None) -> None:
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride
        self.code = code or storage.code

    def materialize(self, little_endian: bool) -> np.ndarray:
        flat = self.storage.flat(little_endian)
        numel = int(np.prod(self.size, dtype=np.int64)) if self.size else 1
        if numel > 0:
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
            if last >= flat.size:
                raise CheckpointError(
                    f"tensor of shape {self.size} (offset {self.offset}, stride {self.stride}) "
                    f"reads past the end of storage {self.storage.key} ({flat.size} elements)")
            view = np.lib.stride_tricks.as_strided(
                flat[self.offset:], shape=self.size,
                strides=tuple(s * flat.itemsize for s in self.stride), writeable=False)
        else:
            view = np.zeros(self.size, dtype=flat.dtype)
        if self.code == "bf16":
            return np.array((view.astype(np.uint32) << 16).view(np.float32), order="C")
        # np.array (not ascontiguousarray, which turns a 0-d scalar into shape (1,))
        return np.array(view, dtype=view.dtype.newbyteorder("="), order="C", copy=True)


class _PickledOrderedDict(dict):
    """What ``collections.OrderedDict`` becomes: a dict; pickled attributes (``_metadata``) are
    accepted and dropped."""

    def __setstate__(self, state: object) -> None:  # BUILD opcode
        if not isinstance(state, dict):
            raise CheckpointError("refused: an OrderedDict with a non-dict state")


class _NumpyDTypeStub:
    """What ``numpy.dtype(code, align, copy)`` becomes; BUILD gives it its byte order."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.byteorder = "<"

    def __setstate__(self, state: object) -> None:
        if isinstance(state, tuple) and len(state) >= 2 and state[1] in ("<", ">", "|", "="):
            self.byteorder = state[1]


def _as_str(value: object, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        raise CheckpointError(f"refused: {what} is {type(value).__name__}, not a string")
    return value


def _as_int_tuple(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        raise CheckpointError(f"refused: tensor {what} {value!r} is not a tuple of non-negative ints")
    if len(value) > 16:
        raise CheckpointError(f"refused: tensor {what} has {len(value)} dimensions")
    return tuple(int(v) for v in value)


def _rebuild_tensor(storage: object, storage_offset: object, size: object, stride: object,
                    *rest: object) -> _LazyTensor:
    """``torch._utils._rebuild_tensor[_v2]``: (storage, offset, size, stride[, requires_grad,
    backward_hooks[, metadata]])."""
    if not isinstance(storage, _Storage):
        raise CheckpointError("refused: a tensor whose storage is not a checkpoint storage")
    if not isinstance(storage_offset, int) or storage_offset < 0:
        raise CheckpointError(f"refused: tensor storage offset {storage_offset!r}")
    size_t = _as_int_tuple(size, "size")
    stride_t = _as_int_tuple(stride, "stride")
    if len(size_t) != len(stride_t):
        raise CheckpointError(f"refused: tensor size {size_t} and stride {stride_t} differ in rank")
    return _LazyTensor(storage, int(storage_offset), size_t, stride_t)


def _rebuild_tensor_v3(storage: object, storage_offset: object, size: object, stride: object,
                       requires_grad: object, backward_hooks: object, dtype: object,
                       *rest: object) -> _LazyTensor:
    """``torch._utils._rebuild_tensor_v3``: an untyped storage plus an explicit dtype."""
    tensor = _rebuild_tensor(storage, storage_offset, size, stride)
    if not isinstance(dtype, _TorchDType):
        raise CheckpointError("refused: _rebuild_tensor_v3 without a torch dtype")
    raw = tensor.storage
    if raw.code != "u1":
        raise CheckpointError("refused: _rebuild_tensor_v3 on a typed storage")
    if raw.numel % dtype.itemsize:
        raise CheckpointError(f"storage {raw.key}: {raw.numel} bytes is not a whole "
                              f"number of {dtype.name} elements")
    # the raw storage's data may arrive after unpickling (legacy): read it through a link
    tensor.storage = _RetypedStorage(raw, dtype)
    tensor.code = dtype.code
    return tensor


class _RetypedStorage(_Storage):
    """An untyped (byte) storage read as another element type."""

    def __init__(self, raw: _Storage, dtype: _TorchDType) -> None:
        super().__init__(raw.key, dtype.code, dtype.itemsize, raw.numel // dtype.itemsize)
        self.raw = raw

    def flat(self, little_endian: bool) -> np.ndarray:
        data = self.raw.flat(little_endian).tobytes()
        code = "u2" if self.code == "bf16" else self.code
        dt = np.dtype(code)
        if dt.itemsize > 1:
            dt = dt.newbyteorder("<" if little_endian else ">")
        return np.frombuffer(data, dtype=dt, count=self.numel)


def _rebuild_parameter(data: object, requires_grad: object = False, backward_hooks: object = None,
                       *rest: object) -> _LazyTensor:
    """``torch._utils._rebuild_parameter[_with_state]``: a Parameter is its tensor here."""
    if not isinstance(data, _LazyTensor):
        raise CheckpointError("refused: a Parameter that does not wrap a tensor")
    return data


def _ordered_dict(*args: object) -> _PickledOrderedDict:
    """``collections.OrderedDict()``; items arrive through SETITEMS."""
    if args and not (len(args) == 1 and isinstance(args[0], (list, tuple)) and not args[0]):
        raise CheckpointError("refused: OrderedDict called with arguments")
    return _PickledOrderedDict()


def _codecs_encode(text: object, encoding: object = "latin1") -> bytes:
    """``_codecs.encode(str, 'latin1')``: how protocol-2 pickles carry ``bytes``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise CheckpointError("refused: _codecs.encode with unexpected arguments")
    return text.encode("latin1")


def _numpy_dtype(code: object, align: object = False, copy: object = True) -> _NumpyDTypeStub:
    if not isinstance(code, str) or code not in _NUMPY_SCALAR_CODES:
        raise CheckpointError(f"refused: numpy dtype {code!r} (only numeric scalars are read)")
    return _NumpyDTypeStub(code)


def _numpy_scalar(dtype: object, data: object = None) -> float | int | bool:
    """``numpy.core.multiarray.scalar(dtype, bytes)`` -> a plain Python number."""
    if not isinstance(dtype, _NumpyDTypeStub) or not isinstance(data, bytes):
        raise CheckpointError("refused: numpy scalar with unexpected arguments")
    dt = np.dtype(dtype.code)
    if dtype.byteorder in ("<", ">"):
        dt = dt.newbyteorder(dtype.byteorder)
    if len(data) != dt.itemsize:
        raise CheckpointError("refused: numpy scalar of the wrong size")
    return np.frombuffer(data, dtype=dt)[0].item()


def _allowed_globals() -> dict[tuple[str, str], Callable[..., Any] | _StorageType | _TorchDType]:
    functions: dict[tuple[str, str], Callable[..., Any]] = {
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
        ("collections", "OrderedDict"): _ordered_dict,
        ("_codecs", "encode"): _codecs_encode,
        ("numpy", "dtype"): _numpy_dtype,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    }
    table: dict[tuple[str, str], Any] = {
        key: _SafeCallable(fn, ".".join(key)) for key, fn in functions.items()}
    for name, (code, size) in _STORAGE_DTYPES.items():
        table[("torch", name)] = _StorageType(name, code, size)
    for name, (code, size) in _TORCH_DTYPES.items():
        table[("torch", name)] = _TorchDType(name, code, size)
    return table


_ALLOWED = _allowed_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves globals only through ``_ALLOWED``; storages through ``storage_for``."""

    def __init__(self, file: io.BufferedIOBase, storage_for: Callable[[tuple], _Storage],
                 where: str) -> None:
        super().__init__(file, encoding="utf-8")
        self._storage_for = storage_for
        self._where = where

    def find_class(self, module: str, name: str) -> Any:  # noqa: D401 - pickle hook
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise CheckpointError(
                f"{self._where}: refused to load global '{module}.{name}': only tensors, "
                "containers and numbers are allowed in a checkpoint (nothing was executed)"
            ) from None

    def persistent_load(self, pid: object) -> _Storage:
        if not isinstance(pid, tuple) or not pid:
            raise CheckpointError(f"{self._where}: refused persistent id {pid!r}")
        if _as_str(pid[0], "persistent id type") != "storage":
            raise CheckpointError(
                f"{self._where}: refused persistent id of type {pid[0]!r} (only storages)")
        return self._storage_for(pid)


def _unpickle(data: io.BufferedIOBase, storage_for: Callable[[tuple], _Storage], where: str) -> Any:
    try:
        return _RestrictedUnpickler(data, storage_for, where).load()
    except CheckpointError:
        raise
    except (pickle.UnpicklingError, EOFError) as exc:
        raise CheckpointError(f"{where}: corrupt or truncated pickle ({exc or 'unexpected end'})") from None
    except (TypeError, ValueError, AttributeError, IndexError, KeyError, struct.error,
            UnicodeDecodeError, MemoryError, RecursionError, OverflowError) as exc:
        raise CheckpointError(f"{where}: malformed pickle ({type(exc).__name__}: {exc})") from None


def _materialize_checked(obj: Any, little_endian: bool, where: str) -> Any:
    try:
        return _materialize(obj, little_endian)
    except CheckpointError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    except (TypeError, ValueError, OverflowError, MemoryError) as exc:
        raise CheckpointError(f"{where}: malformed tensor ({type(exc).__name__}: {exc})") from None


def _materialize(obj: Any, little_endian: bool, depth: int = 0) -> Any:
    """Replace every _LazyTensor in dicts/lists/tuples with its NumPy array."""
    if depth > 100:
        raise CheckpointError("refused: containers nested more than 100 deep")
    if isinstance(obj, _LazyTensor):
        return obj.materialize(little_endian)
    if isinstance(obj, dict):
        return {k: _materialize(v, little_endian, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialize(v, little_endian, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialize(v, little_endian, depth + 1) for v in obj)
    if isinstance(obj, (_NoBuild, _NumpyDTypeStub)) or callable(obj):
        raise CheckpointError(f"refused: a bare {type(obj).__name__} outside a tensor")
    return obj


# ---------------------------------------------------------------------------------------------
# The two container formats
# ---------------------------------------------------------------------------------------------


def _storage_type_of(value: object, where: str) -> _StorageType:
    if not isinstance(value, _StorageType):
        raise CheckpointError(f"{where}: refused storage type {value!r}")
    return value


def _numel_of(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"{where}: refused storage size {value!r}")
    return int(value)


def _load_zip(path: Path, where: str) -> Any:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise CheckpointError(
            f"{where}: not a complete zip archive, the file is truncated or corrupt ({exc})") from None
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
        if any(n.endswith("/constants.pkl") for n in names):
            raise CheckpointError(f"{where}: a TorchScript archive, not a saved state dict")
        if len(pickles) != 1:
            raise CheckpointError(
                f"{where}: expected one '<archive>/data.pkl' record in the zip, found {len(pickles)}")
        prefix = pickles[0][: -len("data.pkl")]
        little_endian = True
        if prefix + "byteorder" in names:
            order = archive.read(prefix + "byteorder").strip()
            if order not in (b"little", b"big"):
                raise CheckpointError(f"{where}: unknown byte order {order!r}")
            little_endian = order == b"little"
        storages: dict[str, _Storage] = {}
        budget = [0]

        def storage_for(pid: tuple) -> _Storage:
            if len(pid) != 5:
                raise CheckpointError(f"{where}: refused storage id of length {len(pid)}")
            stype = _storage_type_of(pid[1], where)
            key = _as_str(pid[2], "storage key")
            numel = _numel_of(pid[4], where)
            if key in storages:
                return storages[key]
            record = prefix + "data/" + key
            try:
                info = archive.getinfo(record)
            except KeyError:
                raise CheckpointError(f"{where}: storage record '{record}' is missing") from None
            nbytes = numel * stype.itemsize
            budget[0] += nbytes
            if budget[0] > MAX_TENSOR_BYTES:
                raise CheckpointError(f"{where}: refused: tensors larger than {MAX_TENSOR_BYTES >> 30} GiB")
            if info.file_size != nbytes:
                raise CheckpointError(
                    f"{where}: storage record '{record}' has {info.file_size} bytes, "
                    f"expected {nbytes} ({numel} x {stype.name})")
            storage = _Storage(key, stype.code, stype.itemsize, numel)
            try:
                storage.data = archive.read(record)
            except (zipfile.BadZipFile, EOFError, OSError) as exc:
                raise CheckpointError(f"{where}: cannot read '{record}': {exc}") from None
            storages[key] = storage
            return storage

        try:
            pkl = archive.read(pickles[0])
        except (zipfile.BadZipFile, EOFError, OSError) as exc:
            raise CheckpointError(f"{where}: cannot read '{pickles[0]}': {exc}") from None
        obj = _unpickle(io.BytesIO(pkl), storage_for, where)
        return _materialize_checked(obj, little_endian, where)


def _load_legacy(path: Path, where: str) -> Any:
    def no_storage(pid: tuple) -> _Storage:
        raise CheckpointError(f"{where}: refused a storage in the file header")

    size = path.stat().st_size
    with open(path, "rb") as fh:
        magic = _unpickle(fh, no_storage, where)
        if magic != LEGACY_MAGIC_NUMBER:
            raise CheckpointError(f"{where}: not a PyTorch checkpoint (bad magic number)")
        version = _unpickle(fh, no_storage, where)
        if version != LEGACY_PROTOCOL_VERSION:
            raise CheckpointError(f"{where}: unsupported legacy protocol version {version!r}")
        sys_info = _unpickle(fh, no_storage, where)
        little_endian = True
        if isinstance(sys_info, dict) and sys_info.get("little_endian") is False:
            little_endian = False
        storages: dict[str, _Storage] = {}

        def storage_for(pid: tuple) -> _Storage:
            if len(pid) != 6:
                raise CheckpointError(f"{where}: refused storage id of length {len(pid)}")
            stype = _storage_type_of(pid[1], where)
            key = _as_str(pid[2], "storage key")
            numel = _numel_of(pid[4], where)
            root = storages.get(key)
            if root is None:
                root = storages[key] = _Storage(key, stype.code, stype.itemsize, numel)
            view = pid[5]
            if view is None:
                return root
            if not (isinstance(view, tuple) and len(view) == 3):
                raise CheckpointError(f"{where}: refused storage view {view!r}")
            view_key = _as_str(view[0], "view key")
            offset = _numel_of(view[1], where)
            view_numel = _numel_of(view[2], where)
            if offset + view_numel > root.numel:
                raise CheckpointError(f"{where}: storage view {view_key} exceeds storage {key}")
            return _Storage(view_key, stype.code, stype.itemsize, view_numel, root=root, offset=offset)

        obj = _unpickle(fh, storage_for, where)
        keys = _unpickle(fh, no_storage, where)
        if not isinstance(keys, list):
            raise CheckpointError(f"{where}: malformed storage key list")
        for raw_key in keys:
            key = _as_str(raw_key, "storage key")
            storage = storages.get(key)
            if storage is None:
                raise CheckpointError(f"{where}: storage {key} is listed but never used")
            head = fh.read(8)
            if len(head) != 8:
                raise CheckpointError(
                    f"{where}: truncated: the data of storage {key} is missing "
                    f"(file ends at byte {size})")
            (numel,) = struct.unpack("<q" if little_endian else ">q", head)
            if numel != storage.numel:
                raise CheckpointError(
                    f"{where}: storage {key} holds {numel} elements, its tensors expect {storage.numel}")
            nbytes = numel * storage.itemsize
            if nbytes > size - fh.tell():  # check before reading: never allocate what is not there
                raise CheckpointError(
                    f"{where}: truncated: storage {key} needs {nbytes} bytes, the file has "
                    f"{size - fh.tell()} left")
            data = fh.read(nbytes)
            if len(data) != nbytes:
                raise CheckpointError(
                    f"{where}: truncated: storage {key} needs {nbytes} bytes, the file has "
                    f"{len(data)} left")
            storage.data = data
        return _materialize_checked(obj, little_endian, where)


def load_checkpoint(path: str | os.PathLike) -> Any:
    """Read any ``.pth`` file into plain Python: dicts, lists, tuples, numbers, strings and
    NumPy arrays (one per tensor). Raises :class:`CheckpointError` for anything else."""
    path = Path(path)
    where = str(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError as exc:
        raise CheckpointError(f"{where}: cannot open: {exc.strerror or exc}") from None
    if not head:
        raise CheckpointError(f"{where}: empty file")
    if head.startswith(b"PK\x03\x04"):
        return _load_zip(path, where)
    if len(head) >= 262 and head[257:262] == b"ustar":
        raise CheckpointError(f"{where}: the tar format of PyTorch < 0.4 is not supported; "
                              "re-save the checkpoint with a newer PyTorch")
    if head[:1] == b"\x80":
        return _load_legacy(path, where)
    raise CheckpointError(f"{where}: not a PyTorch checkpoint (neither zip nor legacy pickle)")


def _is_tensor_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(k, str) and isinstance(v, np.ndarray) for k, v in obj.items())


def extract_state_dict(obj: Any, where: str = "checkpoint") -> dict[str, np.ndarray]:
    """The model's ``{name: array}`` from a loaded checkpoint: a plain state dict, or the
    ``state_dict`` / ``model`` entry of a wrapper (other entries ignored); ``module.`` prefixes
    (DataParallel) are removed. Raises :class:`CheckpointError` naming what was found instead."""
    if not isinstance(obj, dict):
        raise CheckpointError(f"{where}: holds a {type(obj).__name__}, not a state dict")
    if _is_tensor_dict(obj):
        state = obj
    else:
        state = None
        for wrapper_key in ("state_dict", "model", "model_state_dict", "net"):
            if _is_tensor_dict(obj.get(wrapper_key)):
                state = obj[wrapper_key]
                break
        if state is None:
            non_tensor = [k for k, v in obj.items() if not isinstance(v, np.ndarray)]
            keys = ", ".join(repr(k) for k in list(obj)[:8])
            if any(isinstance(v, np.ndarray) for v in obj.values()):
                raise CheckpointError(
                    f"{where}: a state dict mixing tensors with other entries "
                    f"({', '.join(repr(k) for k in non_tensor[:5])})")
            raise CheckpointError(
                f"{where}: no state dict found (top-level keys: {keys}); expected a plain state "
                "dict or a 'state_dict' / 'model' entry holding one")
    out: dict[str, np.ndarray] = {}
    for key, value in state.items():
        name = key[len("module."):] if key.startswith("module.") else key
        if name in out:
            raise CheckpointError(f"{where}: key '{name}' appears both with and without 'module.'")
        out[name] = value
    return out


def read_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``extract_state_dict(load_checkpoint(path))``: the model weights of a ``.pth`` file as
    NumPy arrays, keyed by the module names without ``module.``, in file order."""
    return extract_state_dict(load_checkpoint(path), where=str(path))
