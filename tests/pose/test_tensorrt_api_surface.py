"""Every TensorRT name the backend uses exists in TensorRT 8.6.1 AND 10.3.0; none TensorRT 10 removed is used.

No machine of this project can import TensorRT, so appliance/pose/engines/tensorrt_engine.py (the one
module that imports it) is parsed with ``ast`` and every attribute read on the ``trt`` module, and
on the objects it returns (a builder, a network, a parser, a config, a profile, an engine, a
context...), is looked up in the names the two bindings export (../shared/vendor-api: JetPack 6.0
ships 8.6, 6.1/6.2 ship 10.3). The objects are followed by name: a variable, parameter or
``self.`` attribute assigned from an expression rooted at ``trt`` or at another such object is
one. The lists hold names, not owners, so a name present is necessary, not sufficient; a name
absent is a real break. The attributes TensorRT 10 removed must not appear as attribute access
anywhere in the module (comments and strings aside: ast sees neither).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "appliance" / "pose" / "engines" / "tensorrt_engine.py"
VENDOR = REPO.parent / "shared" / "vendor-api"
VERSIONS = ("tensorrt-8.6.1.txt", "tensorrt-10.3.0.txt")
REMOVED_IN_10 = ("execute_async_v2", "get_binding_index", "binding_is_input", "max_workspace_size", "build_engine")


def _root(node: ast.AST) -> str | None:
    """'trt', 'builder', 'self._engine'... : the name an expression is read from, through attributes,
    calls and subscripts; None for anything else (a literal, a comprehension)."""
    while True:
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                return f"self.{node.attr}"
            node = node.value
        elif isinstance(node, (ast.Call,)):
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return None


def _target_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return [f"self.{target.attr}"]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in _target_names(elt)]
    return []


def tensorrt_objects(tree: ast.AST) -> set[str]:
    """Names bound to the trt module or to what it returns, to a fixed point."""
    tainted = {"trt"}
    while True:
        before = len(tainted)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Tuple) and isinstance(node.value, ast.Tuple) \
                            and len(t.elts) == len(node.value.elts):  # a, b = x, y: pairwise
                        for elt, value in zip(t.elts, node.value.elts):
                            if _root(value) in tainted:
                                tainted.update(_target_names(elt))
                    elif _root(node.value) in tainted:
                        tainted.update(_target_names(t))
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and node.value is not None \
                    and _root(node.value) in tainted:
                tainted.update(_target_names(node.target))
        if len(tainted) == before:
            return tainted


def used_names(source: str) -> set[str]:
    """Every attribute read on the trt module or on an object it returned."""
    tree = ast.parse(source)
    objects = tensorrt_objects(tree)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id == "self":
                continue  # self.X is the engine's own attribute, not TensorRT's
            if _root(base) in objects:
                names.add(node.attr)
    return names


def _vendor(name: str) -> set[str]:
    return set((VENDOR / name).read_text(encoding="utf-8").split())


def test_the_tracker_sees_names_through_objects():
    """The collector itself: module attributes, chained objects, self attributes, tuples."""
    src = ("def f(trt):\n"
           "    b = trt.Builder(trt.Logger(trt.Logger.WARNING))\n"
           "    n, p = b.create_network(0), 1\n"
           "    self._e = n.get_input(0)\n"
           "    self._e.name\n"
           "    x = [1]\n"
           "    x.append(2)\n")
    assert used_names(src) == {"Builder", "Logger", "WARNING", "create_network", "get_input", "name"}


def test_every_name_exists_in_both_versions():
    names = used_names(MODULE.read_text(encoding="utf-8"))
    # what the backend must use at least: the builder and the name-based runtime API of the issue
    for required in ("build_serialized_network", "create_optimization_profile", "add_optimization_profile",
                     "platform_has_fast_fp16", "deserialize_cuda_engine", "num_io_tensors", "get_tensor_name",
                     "get_tensor_mode", "set_input_shape", "set_tensor_address", "execute_async_v3"):
        assert required in names, f"{required} not found: the tracker lost an object"
    for version in VERSIONS:
        missing = sorted(names - _vendor(version))
        assert not missing, f"not in {version}: {missing}"


@pytest.mark.parametrize("version", VERSIONS)
def test_the_lists_know_the_removed_names(version):
    """The lists are what they say: 8.6.1 still has the removed names, 10.3.0 has none of them."""
    present = set(REMOVED_IN_10) & _vendor(version)
    assert present == (set(REMOVED_IN_10) if "8.6" in version else set())


def test_no_removed_name_is_used():
    tree = ast.parse(MODULE.read_text(encoding="utf-8"))
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    assert not used & set(REMOVED_IN_10)


def test_only_this_module_imports_tensorrt():
    importers = []
    for path in (REPO / "appliance").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(m == "tensorrt" or m.startswith("tensorrt.") for m in mods):
                importers.append(path.relative_to(REPO).as_posix())
    assert importers == ["appliance/pose/engines/tensorrt_engine.py"]
