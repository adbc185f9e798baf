"""Every ZED SDK name the zed source uses exists in the Python API of SDK 4.1, 4.2 AND 5.4.0.

No machine of this project can import pyzed, so appliance/capture/zed.py (the one module that
imports it) is parsed with ``ast`` and every name it reaches through ``sl`` is looked up in
../shared/vendor-api/pyzed-{4.1,4.2,5.4.0}.txt (the names of Stereolabs' sl.pyx at those tags:
``sl.Class``, ``sl.Class.member``, ``sl.Class.__init__(keyword)``). The lists name the owner, so
the check is by owner: objects are followed through their types — ``sl.X()`` is an ``X``, a
member's result has the type RETURNS gives it (their ``-> Type`` in sl.pyx), parameters annotated
``sl.X`` are ``X``s, ``self.`` attributes keep the type they were assigned, a ``for`` over a list
of ``X`` binds an ``X`` — and an attribute read or written on an ``X`` must be ``sl.X.attr``.
An attribute used on a result whose type RETURNS does not know is an error (the tracker would
otherwise stop seeing names there). Enum members' ``.name`` / ``.value`` are Python's.

The module needs no branch on the SDK version (its docstring says why), so every name must be in
all three lists; LIST_GAPS holds the names the lists miss although sl.pyx has them at all three
tags, each with the reason, and a test keeps that table true.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "appliance" / "capture" / "zed.py"
VENDOR = REPO.parent / "shared" / "vendor-api"
VERSIONS = ("pyzed-4.1.txt", "pyzed-4.2.txt", "pyzed-5.4.0.txt")

#: In sl.pyx at v4.1, v4.2 and v5.4.0 but not in the lists: the enum line is written
#: ``VGA  = <int>c_RESOLUTION.VGA`` (two spaces before '='), which the lists' extraction missed
#: (SVGA likewise). Checked by hand in the three tags' src/pyzed/sl.pyx.
LIST_GAPS = {"sl.RESOLUTION.VGA": "sl.pyx: `VGA  = <int>c_RESOLUTION.VGA` (two spaces) at v4.1, v4.2, v5.4.0"}

PY = "py"  # a Python value (int, str, float, bool, ndarray): nothing of the SDK to check on it
#: What the members the module follows give (their `-> Type` in sl.pyx); "[X": a list of X.
RETURNS: dict[tuple[str, str], str] = {
    ("Camera", "open"): "ERROR_CODE", ("Camera", "grab"): "ERROR_CODE", ("Camera", "retrieve_image"): "ERROR_CODE",
    ("Camera", "is_opened"): PY, ("Camera", "close"): PY, ("Camera", "get_sdk_version"): PY,
    ("Camera", "get_camera_information"): "CameraInformation", ("Camera", "get_timestamp"): "Timestamp",
    ("Camera", "get_device_list"): "[DeviceProperties",
    ("CameraInformation", "camera_configuration"): "CameraConfiguration", ("CameraInformation", "serial_number"): PY,
    ("CameraConfiguration", "resolution"): "Resolution", ("CameraConfiguration", "fps"): PY,
    ("CameraConfiguration", "calibration_parameters"): "CalibrationParameters",
    ("CalibrationParameters", "left_cam"): "CameraParameters", ("CalibrationParameters", "stereo_transform"): "Transform",
    ("CameraParameters", "fx"): PY, ("CameraParameters", "fy"): PY, ("CameraParameters", "cx"): PY,
    ("CameraParameters", "cy"): PY, ("Resolution", "width"): PY, ("Resolution", "height"): PY,
    ("Transform", "get_translation"): "Translation", ("Translation", "get"): PY,
    ("Timestamp", "get_nanoseconds"): PY, ("Mat", "get_data"): PY,
    ("DeviceProperties", "serial_number"): PY, ("DeviceProperties", "camera_model"): PY,
    ("DeviceProperties", "camera_state"): PY, ("InitParameters", "set_from_serial_number"): PY,
}
ENUM_PY_ATTRS = ("name", "value")


def _is_enum(cls: str) -> bool:
    return cls.isupper()  # sl's enums are ERROR_CODE, VIEW, RESOLUTION...; its classes are CamelCase


class Tracker:
    """Walks a module's functions, giving each expression rooted at ``sl`` a type (see the module's doc).

    Types: ("module",), ("class", C) for sl.C itself, ("obj", C) for an instance or enum member,
    ("list", C), ("unknown", C, M) for sl.C.M's result when RETURNS lacks it, PY, or None (not the SDK).
    """

    def __init__(self, returns: dict[tuple[str, str], str]) -> None:
        self.returns = returns
        self.names: set[str] = set()
        self.errors: set[str] = set()
        self.functions: dict[str, tuple] = {}  # module function -> the type its return annotation says

    # -- types ------------------------------------------------------------------------------------------------
    def _result(self, cls: str, member: str):
        self.names.add(f"sl.{cls}.{member}")
        r = self.returns.get((cls, member))
        if r is None:
            return ("unknown", cls, member)
        if r == PY:
            return PY
        return ("list", r[1:]) if r.startswith("[") else ("obj", r)

    def annotation(self, node) -> tuple | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node = ast.parse(node.value, mode="eval").body
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "sl":
            return ("obj", node.attr)
        return None

    def attr(self, base, name: str, node):
        if base is None or base == PY:
            return None
        kind = base[0]
        if kind == "module":
            self.names.add(f"sl.{name}")
            return ("class", name)
        if kind == "class":
            if _is_enum(base[1]) and name.isupper():
                self.names.add(f"sl.{base[1]}.{name}")
                return ("obj", base[1])
            return self._result(base[1], name)  # a static method (Camera.get_sdk_version) or class attribute
        if kind == "obj":
            if _is_enum(base[1]) and name in ENUM_PY_ATTRS:
                return PY
            return self._result(base[1], name)
        if kind == "unknown":
            self.errors.add(f"sl.{base[1]}.{base[2]} gives a value whose .{name} is used (line {node.lineno}): "
                            "add its type to RETURNS")
        return None

    def typeof(self, node, env: dict) -> tuple | None:
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return ("module",) if node.id == "sl" else env.get(node.id)
        if isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                return env.get(f"self.{node.attr}")
            return self.attr(self.typeof(node.value, env), node.attr, node)
        if isinstance(node, ast.Call):
            for a in node.args:
                self.typeof(a, env)
            for k in node.keywords:
                self.typeof(k.value, env)
            func = node.func
            if isinstance(func, ast.Name) and func.id in self.functions:
                return self.functions[func.id]
            t = self.typeof(func, env)
            if t is not None and t[0] == "class":  # sl.X(...): an X, with X's constructor keywords
                for k in node.keywords:
                    if k.arg:
                        self.names.add(f"sl.{t[1]}.__init__({k.arg})")
                return ("obj", t[1])
            return t  # a member's result: typed by RETURNS already (the call is what it describes)
        for child in ast.iter_child_nodes(node):  # operators, subscripts, literals, comprehensions...
            self.typeof(child, env)
        return PY if isinstance(node, ast.Subscript) and self.typeof(node.value, env) == PY else None

    # -- statements -------------------------------------------------------------------------------------------
    def bind(self, target, t, env: dict) -> None:
        if isinstance(target, ast.Name):
            if t is not None:
                env[target.id] = t
        elif isinstance(target, ast.Attribute):
            if isinstance(target.value, ast.Name) and target.value.id == "self":
                if t is not None:
                    env[f"self.{target.attr}"] = t
            else:  # init.camera_fps = ...: a write to a member of the SDK's object
                self.attr(self.typeof(target.value, env), target.attr, target)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self.bind(elt, None, env)

    def stmt(self, s, env: dict) -> None:
        if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        if isinstance(s, ast.Assign):
            if len(s.targets) == 1 and isinstance(s.targets[0], ast.Tuple) and isinstance(s.value, ast.Tuple) \
                    and len(s.targets[0].elts) == len(s.value.elts):  # a, b = x, y: pairwise
                for t, v in zip(s.targets[0].elts, s.value.elts):
                    self.bind(t, self.typeof(v, env), env)
                return
            t = self.typeof(s.value, env)
            for target in s.targets:
                self.bind(target, t, env)
            return
        if isinstance(s, (ast.AnnAssign, ast.AugAssign)):
            self.bind(s.target, self.typeof(s.value, env), env)
            return
        if isinstance(s, ast.For):
            t = self.typeof(s.iter, env)
            self.bind(s.target, ("obj", t[1]) if t and t[0] == "list" else None, env)
            for b in s.body + s.orelse:
                self.stmt(b, env)
            return
        for _, value in ast.iter_fields(s):
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, ast.stmt):
                    self.stmt(v, env)
                elif isinstance(v, ast.ExceptHandler):
                    for b in v.body:
                        self.stmt(b, env)
                elif isinstance(v, ast.withitem):
                    self.bind(v.optional_vars, self.typeof(v.context_expr, env), env)
                elif isinstance(v, ast.expr):
                    self.typeof(v, env)

    def function(self, fn, env: dict) -> None:
        args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
        for a in args:
            t = self.annotation(a.annotation) if a.annotation is not None else None
            if t is not None:
                env[a.arg] = t
        for d in fn.args.defaults + fn.args.kw_defaults:
            self.typeof(d, env)
        for s in fn.body:
            self.stmt(s, env)

    def module(self, tree: ast.Module) -> None:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.returns is not None:
                t = self.annotation(node.returns)
                if t is not None:
                    self.functions[node.name] = t
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.function(node, {})
            elif isinstance(node, ast.ClassDef):
                attrs: dict = {}  # self.X -> type, across the methods (twice: an attribute set late is seen)
                for _ in range(2):
                    for m in node.body:
                        if isinstance(m, ast.FunctionDef):
                            env = dict(attrs)
                            self.function(m, env)
                            attrs.update({k: v for k, v in env.items() if k.startswith("self.")})


def used(source: str) -> Tracker:
    t = Tracker(RETURNS)
    t.module(ast.parse(source))
    return t


def _vendor(name: str) -> set[str]:
    return set((VENDOR / name).read_text(encoding="utf-8").split())


def missing_from(names: set[str], version: str) -> list[str]:
    return sorted(names - _vendor(version) - set(LIST_GAPS))


SAMPLE = '''
def make(sl) -> sl.InitParameters:
    init = sl.InitParameters(camera_fps=30)
    init.depth_mode = sl.DEPTH_MODE.NONE
    return init

class Src:
    def __init__(self, sl):
        self._cam = sl.Camera()
        self._mat = sl.Mat()
        err = self._cam.open(make(sl))
        if err.name == "SUCCESS":
            pass
    def later(self, info: sl.CameraInformation):
        left = info.camera_configuration.calibration_parameters.left_cam
        x = left.fx + self._cam.get_timestamp(sl.TIME_REFERENCE.IMAGE).get_nanoseconds()
        for dev in sl.Camera.get_device_list():
            dev.serial_number
        cam, other = self._cam, 3
        cam.grab()
        numbers = [1]
        numbers.append(2)
'''


def test_the_tracker_follows_objects_by_type():
    t = used(SAMPLE)
    assert t.errors == set()
    assert t.names == {
        "sl.InitParameters", "sl.InitParameters.__init__(camera_fps)", "sl.InitParameters.depth_mode",
        "sl.DEPTH_MODE", "sl.DEPTH_MODE.NONE", "sl.Camera", "sl.Mat", "sl.Camera.open",
        "sl.CameraInformation.camera_configuration", "sl.CameraConfiguration.calibration_parameters",
        "sl.CalibrationParameters.left_cam", "sl.CameraParameters.fx", "sl.Camera.get_timestamp", "sl.TIME_REFERENCE",
        "sl.TIME_REFERENCE.IMAGE", "sl.Timestamp.get_nanoseconds", "sl.Camera.get_device_list",
        "sl.DeviceProperties.serial_number", "sl.Camera.grab",
    }


def test_a_bogus_name_is_reported_in_every_version():
    t = used("def f(sl):\n    init = sl.InitParameters()\n    init.camera_fpss = 30\n    sl.VIEW.LEFTT\n")
    for version in VERSIONS:
        assert missing_from(t.names, version) == ["sl.InitParameters.camera_fpss", "sl.VIEW.LEFTT"]


def test_a_name_only_sdk5_has_is_reported_for_sdk4():
    t = used("def f(sl):\n    sl.DEPTH_MODE.NEURAL_LIGHT\n")
    assert [missing_from(t.names, v) for v in VERSIONS] == [["sl.DEPTH_MODE.NEURAL_LIGHT"]] * 2 + [[]]


def test_a_result_of_unknown_type_is_an_error_not_a_blind_spot():
    t = used("def f(sl):\n    cam = sl.Camera()\n    cam.get_camera_settings(1).whatever\n")
    assert len(t.errors) == 1 and "sl.Camera.get_camera_settings" in next(iter(t.errors))


def test_every_name_the_zed_source_uses_exists_in_the_three_versions():
    t = used(MODULE.read_text(encoding="utf-8"))
    assert t.errors == set()
    # what the source must use at least (issue 13): a lost object would make these disappear
    for required in ("sl.InitParameters.camera_resolution", "sl.InitParameters.camera_fps",
                     "sl.InitParameters.depth_mode", "sl.DEPTH_MODE.NONE", "sl.InitParameters.coordinate_units",
                     "sl.UNIT.MILLIMETER", "sl.InitParameters.set_from_serial_number",
                     "sl.InitParameters.camera_disable_self_calib", "sl.InitParameters.optional_settings_path",
                     "sl.InitParameters.open_timeout_sec", "sl.InitParameters.async_grab_camera_recovery",
                     "sl.Camera.open", "sl.Camera.is_opened", "sl.Camera.grab", "sl.Camera.retrieve_image",
                     "sl.VIEW.LEFT", "sl.VIEW.RIGHT", "sl.Mat.get_data", "sl.Camera.get_timestamp",
                     "sl.TIME_REFERENCE.IMAGE", "sl.Timestamp.get_nanoseconds", "sl.Camera.get_camera_information",
                     "sl.CameraInformation.camera_configuration", "sl.CameraInformation.serial_number",
                     "sl.CameraConfiguration.calibration_parameters", "sl.CalibrationParameters.left_cam",
                     "sl.CameraParameters.fx", "sl.CameraParameters.cy", "sl.CalibrationParameters.stereo_transform",
                     "sl.Transform.get_translation", "sl.Translation.get", "sl.ERROR_CODE.SUCCESS",
                     "sl.RESOLUTION.HD720", "sl.Camera.get_sdk_version", "sl.Camera.get_device_list"):
        assert required in t.names, f"{required} not seen: the tracker lost an object"
    for version in VERSIONS:
        assert missing_from(t.names, version) == [], f"not in {version}"


def test_the_list_gaps_are_real_and_used():
    """Each gap is absent from all three lists (when a list is fixed, its entry goes) and used by the module."""
    names = used(MODULE.read_text(encoding="utf-8")).names
    for gap in LIST_GAPS:
        assert gap in names
        assert all(gap not in _vendor(v) for v in VERSIONS), f"{gap} is listed now: remove it from LIST_GAPS"


@pytest.mark.parametrize(("name", "present"), [
    ("sl.DEPTH_MODE.NEURAL_LIGHT", (False, False, True)),  # SDK 5's new default family
    ("sl.MEM.GPU", (False, False, True)),
    ("sl.VIEW.LEFT_BGR", (False, False, True)),
    ("sl.CalibrationParameters.set", (True, True, False)),
])
def test_the_versions_differ_where_the_module_doc_says(name, present):
    """The lists really differ between 4.x and 5.x (so the check has teeth), and the module uses none of those."""
    assert tuple(name in _vendor(v) for v in VERSIONS) == present
    assert name not in used(MODULE.read_text(encoding="utf-8")).names


def test_only_the_zed_module_imports_pyzed():
    importers = []
    for path in (REPO / "appliance").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(m == "pyzed" or m.startswith("pyzed.") for m in mods):
                importers.append(path.relative_to(REPO).as_posix())
    assert sorted(set(importers)) == ["appliance/capture/zed.py"]
