"""The JSON sidecar beside a TensorRT engine: what it was built from, with what, for which GPU.

A serialised TensorRT engine runs only on the TensorRT version and the GPU it was built with, and
its own bytes say nothing a researcher can use. So ``agma engine build`` writes ``F.engine.json``
beside ``F.engine``::

    {"format": "agma-engine-sidecar", "version": 1,
     "tensorrt_version": "8.6.2", "gpu_name": "Orin", "compute_capability": "8.7",
     "onnx_sha256": "...", "onnx_path": "hrnet_w32.onnx", "engine_file": "hrnet_w32.engine",
     "precision": "fp16", "profile_min_batch": 1, "profile_opt_batch": 2, "profile_max_batch": 4,
     "built_at": "2026-12-02T08:00:00Z", "software_version": "agma 0.1.0"}

:func:`check` compares it with the running TensorRT and GPU (a :class:`RuntimeDescription`) and
gives one line that names every mismatch and the exact command that rebuilds the engine here, or
None. Pure apart from :func:`read_sidecar` / :func:`write_sidecar` (atomic: appliance.files); no
TensorRT is imported here (appliance.pose.engines.tensorrt_engine describes the running one).
"""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from appliance.errors import AgmaError
from appliance.files import atomic_write

FORMAT = "agma-engine-sidecar"
VERSION = 1
SUFFIX = ".json"
PRECISIONS = ("fp16", "fp32")


class SidecarError(AgmaError):
    """A sidecar that is missing, unreadable or malformed (one line naming the file)."""


@dataclass(frozen=True)
class EngineSidecar:
    tensorrt_version: str
    gpu_name: str
    #: "major.minor", e.g. "8.7" (Orin)
    compute_capability: str
    onnx_sha256: str
    precision: str
    profile_min_batch: int
    profile_opt_batch: int
    profile_max_batch: int
    #: ISO 8601 UTC, e.g. "2026-12-02T08:00:00Z"
    built_at: str
    #: "agma 0.1.0"
    software_version: str
    #: the ONNX file as given to the build (None: not known; the rebuild command names its sha256)
    onnx_path: str | None = None
    #: the engine's file name at build time (the rebuild command's -o when no path is given)
    engine_file: str | None = None

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}, expected one of {', '.join(PRECISIONS)}")
        if not 1 <= self.profile_min_batch <= self.profile_opt_batch <= self.profile_max_batch:
            raise ValueError(f"profile batch min {self.profile_min_batch} <= opt {self.profile_opt_batch} "
                             f"<= max {self.profile_max_batch} does not hold")
        if len(self.onnx_sha256) != 64 or any(c not in "0123456789abcdef" for c in self.onnx_sha256):
            raise ValueError(f"onnx_sha256 {self.onnx_sha256!r} is not 64 lowercase hex digits")

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "version": VERSION, **asdict(self)}, indent=2) + "\n"


@dataclass(frozen=True)
class RuntimeDescription:
    """The TensorRT and GPU an engine is about to run on (and the ONNX model it should come from)."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str
    #: sha256 of the ONNX model the caller expects the engine to be built from; None: not checked
    expected_onnx_sha256: str | None = None


def sidecar_path(engine_path: str | os.PathLike) -> Path:
    """F.engine -> F.engine.json (beside it)."""
    p = Path(engine_path)
    return p.with_name(p.name + SUFFIX)


def from_json(text: str, where: str) -> EngineSidecar:
    """Parse a sidecar; SidecarError naming ``where`` and what is wrong."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SidecarError(f"{where}: corrupt engine sidecar (not JSON: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SidecarError(f"{where}: not an agma engine sidecar (no \"format\": \"{FORMAT}\")")
    if doc.get("version") != VERSION:
        raise SidecarError(f"{where}: engine sidecar version {doc.get('version')!r}; this agma reads version {VERSION}")
    kwargs = {}
    for f in fields(EngineSidecar):
        optional = f.default is None
        if f.name not in doc:
            if optional:
                continue
            raise SidecarError(f"{where}: corrupt engine sidecar (no \"{f.name}\")")
        value = doc[f.name]
        want = int if f.name.startswith("profile_") else str
        if not (isinstance(value, want) and not isinstance(value, bool)) and not (optional and value is None):
            raise SidecarError(f"{where}: corrupt engine sidecar (\"{f.name}\" is {value!r}, expected {want.__name__})")
        kwargs[f.name] = value
    try:
        return EngineSidecar(**kwargs)
    except ValueError as exc:
        raise SidecarError(f"{where}: corrupt engine sidecar ({exc})") from None


def read_sidecar(engine_path: str | os.PathLike) -> EngineSidecar:
    """The sidecar beside ``engine_path``; SidecarError (one line naming the sidecar file) when it is
    missing, unreadable or malformed."""
    path = sidecar_path(engine_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SidecarError(f"{path}: no engine sidecar beside {Path(engine_path).name} "
                           "(rebuild the engine with agma engine build, which writes it)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SidecarError(f"{path}: engine sidecar unreadable ({exc})") from None
    return from_json(text, str(path))


def write_sidecar(engine_path: str | os.PathLike, sidecar: EngineSidecar) -> Path:
    """Write the sidecar beside ``engine_path`` atomically (old or whole new file, durably)."""
    return atomic_write(sidecar_path(engine_path), sidecar.to_json().encode("utf-8"))


def rebuild_command(sidecar: EngineSidecar, engine_path: str | os.PathLike | None = None) -> str:
    """``agma engine build`` with the sidecar's settings, to rebuild this engine on this machine."""
    onnx = sidecar.onnx_path or f"ONNX_{sidecar.onnx_sha256[:12]}.onnx"
    engine = str(engine_path) if engine_path is not None else (sidecar.engine_file or "F.engine")
    parts = ["agma", "engine", "build", "--onnx", onnx, "-o", engine]
    if sidecar.precision == "fp16":
        parts.append("--fp16")
    parts += ["--batch", str(sidecar.profile_max_batch)]
    return " ".join(shlex.quote(p) for p in parts)


def check(sidecar: EngineSidecar, runtime: RuntimeDescription,
          engine_path: str | os.PathLike | None = None) -> str | None:
    """None when the engine can run on ``runtime``; else one line naming each mismatch and the
    exact rebuild command."""
    problems = []
    if sidecar.tensorrt_version != runtime.tensorrt_version:
        problems.append(f"TensorRT {sidecar.tensorrt_version}, this is TensorRT {runtime.tensorrt_version}")
    if sidecar.gpu_name != runtime.gpu_name:
        problems.append(f"GPU {sidecar.gpu_name!r}, this is {runtime.gpu_name!r}")
    if sidecar.compute_capability != runtime.compute_capability:
        problems.append(f"compute capability {sidecar.compute_capability}, this is {runtime.compute_capability}")
    if runtime.expected_onnx_sha256 is not None and sidecar.onnx_sha256 != runtime.expected_onnx_sha256:
        problems.append(f"ONNX sha256 {sidecar.onnx_sha256[:12]}..., expected {runtime.expected_onnx_sha256[:12]}...")
    if not problems:
        return None
    name = Path(engine_path).name if engine_path is not None else (sidecar.engine_file or "the engine")
    return (f"{name} was built for " + "; ".join(problems)
            + f": rebuild it here with: {rebuild_command(sidecar, engine_path)}")
