"""The package layout follows the data path: no module imports a later layer or another layer's internals.

DESIGN.md's data path is capture -> pose -> stereo -> store -> status; the runtime wires those
stages and threads together, the benches time them, the commands drive the runtime and the stores,
and the cli dispatches to the commands. A stage that reaches forward (the synthetic source calling
the stereo stage's projection, the accuracy report reading the store, a command importing the cli
that imports the commands) ties two stages so that neither can be read, tested or replaced alone.
So every module under appliance/ is parsed with ``ast`` (no import runs) and each ``import`` and
``from ... import`` — at the top, inside a function (the lazy imports that keep ``agma --help``
fast) or under TYPE_CHECKING alike — must go to its own layer or to one that its row of ``ALLOWED``
names. What crosses stages does so through the neutral modules (frames.py: the dataclasses, and the
rectified geometry beside RectifiedCalibration; joints.py; errors.py; files.py; output.py).

Layers, in order; a row may name only layers before its own (checked below), so the table itself
cannot quietly allow a backward edge:

| layer    | modules                        | may import, besides its own layer                        |
|----------|--------------------------------|----------------------------------------------------------|
| neutral  | appliance (its __version__),   | neutral; config also the stages' dependency-free fact    |
|          | errors, files, joints, frames, | modules (CONFIG_FACTS: the config takes each shared fact |
|          | output, config, events         | from the module that owns it)                            |
| capture  | appliance/capture/             | neutral                                                  |
| pose     | appliance/pose/                | neutral (capture's frame types only through frames.py)   |
| stereo   | appliance/stereo/              | neutral (keypoints and calibration through frames.py)    |
| store    | appliance/store/               | neutral, stereo.reasons (the invalid-reason list)        |
| status   | appliance/status/              | neutral (the runtime hands its sinks callables:          |
|          |                                | Box.answer, Box.press, Box.led_view)                     |
| runtime  | appliance/runtime/             | neutral, capture, pose, stereo, store, status            |
| bench    | appliance/bench/               | everything before it                                     |
| commands | appliance/commands/            | everything before it (never the cli)                     |
| cli      | appliance/cli.py, __main__.py  | neutral, commands                                        |

Besides the direction: no module imports a ``_private`` name or module of another layer (a
sibling's internals); make it public where it is defined, or keep the caller inside that layer.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "appliance"

ORDER = ("neutral", "capture", "pose", "stereo", "store", "status", "runtime", "bench", "commands", "cli")

#: Top-level modules every layer may import (the package itself: its __version__).
NEUTRAL = frozenset({"appliance", "appliance.errors", "appliance.files", "appliance.joints", "appliance.frames",
                     "appliance.output", "appliance.config", "appliance.events"})

#: The config table takes each fact it shares with a stage from the stage's dependency-free module
#: that owns it (tests/test_config_owners.py): these exact modules, nothing else of the stages.
CONFIG_FACTS = frozenset({"appliance.capture", "appliance.capture.faults", "appliance.pose.decoders",
                          "appliance.stereo.reasons"})

#: layer -> what it may import besides itself: a layer's name (any of its modules), or one exact module.
ALLOWED: dict[str, frozenset[str]] = {
    "neutral": frozenset(),
    "capture": frozenset({"neutral"}),
    "pose": frozenset({"neutral"}),
    "stereo": frozenset({"neutral"}),
    "store": frozenset({"neutral", "appliance.stereo.reasons"}),
    "status": frozenset({"neutral"}),
    "runtime": frozenset({"neutral", "capture", "pose", "stereo", "store", "status"}),
    "bench": frozenset({"neutral", "capture", "pose", "stereo", "store", "status", "runtime"}),
    "commands": frozenset({"neutral", "capture", "pose", "stereo", "store", "status", "runtime", "bench"}),
    "cli": frozenset({"neutral", "commands"}),
}

_PACKAGES = {"capture", "pose", "stereo", "store", "status", "runtime", "bench", "commands"}


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = ("appliance",) + path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str | None:
    """The layer a module of appliance belongs to; None for a module no row of the table names."""
    parts = module.split(".")
    if module in NEUTRAL:
        return "neutral"
    if module in ("appliance.cli", "appliance.__main__"):
        return "cli"
    if len(parts) >= 2 and parts[1] in _PACKAGES:
        return parts[1]
    return None


def _all_modules(root: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py"))}


def imports_of(module: str, is_package: bool, source: str, known: set[str]) -> list[tuple[int, str, str | None]]:
    """(line, imported module, imported name or None) of every import of appliance in one module's source.

    ``from X import n`` imports the module X.n when that is a module of the package, else the name n of X.
    """
    package = module if is_package else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "appliance"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "appliance":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                found.append((node.lineno, sub, None) if sub in known else (node.lineno, target, a.name))
    return found


def _allowed(importer: str, src_layer: str, target: str, dst_layer: str | None) -> bool:
    if dst_layer == src_layer:
        return True
    if importer == "appliance.config" and target in CONFIG_FACTS:
        return True
    return dst_layer in ALLOWED[src_layer] or target in ALLOWED[src_layer]


def _private(target: str, name: str | None) -> bool:
    parts = target.split(".")[1:] + ([name] if name else [])
    return any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts)


def violations(modules: dict[str, str], package_modules: set[str], known: set[str]) -> list[str]:
    """Every import, among ``modules`` (name -> source), that the table forbids, as one line each.

    package_modules: those of ``modules`` that are packages (their relative imports start from
    themselves); known: every module name of appliance (to tell ``from X import module`` apart).
    """
    out = []
    for module, source in sorted(modules.items()):
        src_layer = layer_of(module)
        if src_layer is None:
            continue  # reported by test_every_module_has_a_layer
        for line, target, name in imports_of(module, module in package_modules, source, known):
            dst_layer = layer_of(target)
            what = f"{target}" + (f" ({name})" if name else "")
            if not _allowed(module, src_layer, target, dst_layer):
                may = ", ".join(sorted(ALLOWED[src_layer])) or "only itself"
                out.append(f"{module}:{line} imports {what}, layer {dst_layer}: {src_layer} may import {may}")
            elif dst_layer != src_layer and _private(target, name):
                out.append(f"{module}:{line} imports {what}: a private name of layer {dst_layer}")
    return out


def _sources() -> tuple[dict[str, str], set[str]]:
    mods = _all_modules()
    return ({m: p.read_text(encoding="utf-8") for m, p in mods.items()},
            {m for m, p in mods.items() if p.name == "__init__.py"})


def test_the_table_only_allows_earlier_layers():
    """A row naming a later layer would make the order a lie: each row names only layers before it."""
    assert set(ALLOWED) == set(ORDER)
    for layer, allowed in ALLOWED.items():
        for entry in allowed:
            target = entry if entry in ORDER else layer_of(entry)
            assert target in ORDER, f"{layer}: {entry} is neither a layer nor a module of one"
            assert ORDER.index(target) < ORDER.index(layer), f"{layer} may not import {entry}: {target} comes later"
    assert CONFIG_FACTS <= set(_all_modules()), "a fact module the config may import no longer exists"


def test_every_module_has_a_layer():
    """A new top-level module must be placed in the table (neutral, or inside a stage's package)."""
    assert [m for m in _all_modules() if layer_of(m) is None] == []


def test_no_module_imports_a_later_layer_or_anothers_internals():
    """The data path's direction, for every import of every module of appliance/."""
    sources, packages = _sources()
    found = violations(sources, packages, set(sources))
    assert found == [], "layering violations (see tests/test_layering.py's table):\n" + "\n".join(found)


@pytest.mark.parametrize("module, source, bad", [
    ("appliance.capture.synthetic", "from ..stereo.triangulate import project_rectified\n", True),
    ("appliance.stereo.report", "def f():\n    from ..store.readback import load_session_arrays\n", True),
    ("appliance.commands.db", "from ..cli import emit_json\n", True),
    ("appliance.commands.db", "import appliance.cli\n", True),
    ("appliance.store.schema", "from ..stereo import validity\n", True),
    ("appliance.commands.engine", "from ..pose.export.hrnet_onnx import _import_onnx\n", True),
    ("appliance.config", "from .store import schema\n", True),
    ("appliance.status.led", "from ..runtime.box import Box\n", True),
    ("appliance.capture.synthetic", "from ..frames import RectifiedCalibration\nfrom . import rectify\n", False),
    ("appliance.store.schema", "from ..stereo.reasons import REASONS\n", False),
    ("appliance.store.schema", "from ..stereo import reasons\n", False),
    ("appliance.config", "from .capture import SOURCES\nfrom .pose.decoders import DECODERS\n", False),
    ("appliance.runtime.box", "from ..status.led import LedView\nfrom ..store import sessions\n", False),
    ("appliance.commands.db", "from ..output import emit_json\nfrom ..bench import registry\n", False),
    ("appliance.cli", "from .commands import db\n", False),
])
def test_the_check_sees_what_it_forbids(module, source, bad):
    """The check itself can fail: known-bad imports are reported, allowed ones are not."""
    known = set(_all_modules()) | {"appliance.stereo.reasons", "appliance.stereo.validity", module}
    found = violations({module: source}, set(), known)
    assert bool(found) == bad, found
