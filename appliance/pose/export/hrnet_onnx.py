"""HRNet checkpoint (official ``PoseHighResolutionNet`` layout) -> ONNX graph, without PyTorch.

The architecture is the one of leoxiaobin/deep-high-resolution-net.pytorch
``lib/models/pose_hrnet.py`` with MODEL.EXTRA of the ``w32_384x288`` config, which DarkPose
reuses unchanged:

- stem: two 3x3 stride-2 convolutions (64 channels) with BatchNorm and ReLU;
- layer1: four Bottleneck blocks (64 -> 256 channels, the first with a 1x1 downsample);
- transition1, stage2 (1 module, 2 branches), transition2, stage3 (4 modules, 3 branches),
  transition3, stage4 (3 modules, 4 branches, the last module fusing only into branch 0);
  every branch is four BasicBlocks; fuse layers are a 1x1 convolution + BatchNorm + nearest
  upsampling from a lower-resolution branch, or a chain of 3x3 stride-2 convolutions from a
  higher-resolution one;
- final_layer: a 1x1 (or 3x3) convolution with bias to one heatmap per joint.

The branch widths (32/64/128/256 for W32, 48/96/192/384 for W48, any others) and the number of
joints are read from the checkpoint. Every state-dict key is checked against the layout before
anything is built: missing, unexpected and mis-shaped keys are reported by name in one
:class:`~appliance.pose.export.checkpoint.CheckpointError`. (``num_batches_tracked`` may be absent, as
in checkpoints written before PyTorch 0.4.1; PyTorch tolerates that too.)

BatchNorm (eps 1e-5, running statistics) is folded into the preceding convolution in float64.
The graph has a dynamic batch axis ``N``: input ``input`` float32 (N, 3, 384, 288), output
``heatmaps`` float32 (N, J, 96, 72) (DESIGN.md, "Model contract"). Opset 17 and IR version 8
keep it loadable by TensorRT 8.6 (JetPack 6.0) as well as 10.x and ONNX Runtime.
"""
from __future__ import annotations

import os
import re
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from appliance.errors import AgmaError
from appliance.pose.export.checkpoint import CheckpointError, read_state_dict
from appliance.files import sha256_file
from appliance.pose.engine import INPUT_HEIGHT, INPUT_WIDTH

BN_EPS = 1e-5
STEM_WIDTH = 64
LAYER1_BLOCKS = 4
BOTTLENECK_EXPANSION = 4
#: (number of branches, number of modules) of stages 2, 3 and 4.
STAGES: tuple[tuple[int, int], ...] = ((2, 1), (3, 4), (4, 3))
BLOCKS_PER_BRANCH = 4
OPSET = 17
IR_VERSION = 8
INPUT_NAME = "input"
OUTPUT_NAME = "heatmaps"

_BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_LEARNABLE_SUFFIXES = (".weight", ".bias")


@dataclass(frozen=True)
class HRNetSpec:
    """What varies between HRNet checkpoints of the official layout."""

    widths: tuple[int, ...]  # channels of branches 0..3 (W32: 32, 64, 128, 256)
    num_joints: int = 17
    final_kernel: int = 1  # MODEL.EXTRA.FINAL_CONV_KERNEL: 1 or 3

    @property
    def name(self) -> str:
        return f"HRNet-W{self.widths[0]}"


def _need(state: dict[str, np.ndarray], key: str, what: str) -> np.ndarray:
    if key not in state:
        raise CheckpointError(
            f"missing key '{key}' ({what}): not an HRNet checkpoint in the official layout")
    return state[key]


def spec_from_state_dict(state: dict[str, np.ndarray]) -> HRNetSpec:
    """Read the branch widths, joint count and final kernel size from a state dict.

    Each branch width is the most common output-channel count of that branch's BasicBlock
    convolutions, so a single mis-shaped tensor is reported as mis-shaped rather than changing
    the architecture."""
    votes: dict[int, Counter] = {b: Counter() for b in range(len(STAGES) + 1)}
    pattern = re.compile(r"^stage\d\.\d+\.branches\.(\d+)\.\d+\.conv[12]\.weight$")
    for key, value in state.items():
        m = pattern.match(key)
        if m and int(m.group(1)) in votes and np.ndim(value) == 4:
            votes[int(m.group(1))][int(value.shape[0])] += 1
    widths = []
    for b, counter in votes.items():
        if not counter:
            example = f"stage{max(b, 1) + 1}.0.branches.{b}.0.conv1.weight"
            raise CheckpointError(
                f"missing key '{example}' (branch {b} of the high-resolution stages): not an "
                "HRNet checkpoint in the official layout")
        widths.append(counter.most_common(1)[0][0])
    final = _need(state, "final_layer.weight", "the final 1x1 convolution")
    if final.ndim != 4 or final.shape[2] != final.shape[3] or final.shape[2] not in (1, 3):
        raise CheckpointError(
            f"mis-shaped key 'final_layer.weight': shape {tuple(final.shape)}, expected "
            f"(joints, {widths[0]}, 1, 1) or (joints, {widths[0]}, 3, 3)")
    return HRNetSpec(widths=tuple(widths), num_joints=int(final.shape[0]),
                     final_kernel=int(final.shape[2]))


# ---------------------------------------------------------------------------------------------
# The architecture, written once, run by two backends: one lists the expected keys and shapes,
# the other emits ONNX nodes.
# ---------------------------------------------------------------------------------------------


class _Ops:
    """Backend interface: tensors are opaque handles."""

    def conv_bn(self, x: Any, conv: str, bn: str, cin: int, cout: int, k: int, stride: int,
                relu: bool) -> Any:
        raise NotImplementedError

    def conv_bias(self, x: Any, conv: str, cin: int, cout: int, k: int) -> Any:
        raise NotImplementedError

    def add(self, a: Any, b: Any) -> Any:
        raise NotImplementedError

    def relu(self, x: Any) -> Any:
        raise NotImplementedError

    def upsample(self, x: Any, factor: int) -> Any:
        raise NotImplementedError


def _bottleneck(ops: _Ops, x: Any, p: str, cin: int, planes: int) -> Any:
    cout = planes * BOTTLENECK_EXPANSION
    out = ops.conv_bn(x, f"{p}.conv1", f"{p}.bn1", cin, planes, 1, 1, True)
    out = ops.conv_bn(out, f"{p}.conv2", f"{p}.bn2", planes, planes, 3, 1, True)
    out = ops.conv_bn(out, f"{p}.conv3", f"{p}.bn3", planes, cout, 1, 1, False)
    if cin != cout:
        x = ops.conv_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", cin, cout, 1, 1, False)
    return ops.relu(ops.add(out, x))


def _basic_block(ops: _Ops, x: Any, p: str, cin: int, planes: int) -> Any:
    out = ops.conv_bn(x, f"{p}.conv1", f"{p}.bn1", cin, planes, 3, 1, True)
    out = ops.conv_bn(out, f"{p}.conv2", f"{p}.bn2", planes, planes, 3, 1, False)
    if cin != planes:
        x = ops.conv_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", cin, planes, 1, 1, False)
    return ops.relu(ops.add(out, x))


def _hr_module(ops: _Ops, xs: list, p: str, cin: list[int], ch: list[int], multi_scale: bool) -> list:
    nb = len(ch)
    xs = list(xs)
    for b in range(nb):
        c = cin[b]
        for k in range(BLOCKS_PER_BRANCH):
            xs[b] = _basic_block(ops, xs[b], f"{p}.branches.{b}.{k}", c, ch[b])
            c = ch[b]
    if nb == 1:
        return xs

    def fuse(i: int, j: int, x: Any) -> Any:
        f = f"{p}.fuse_layers.{i}.{j}"
        if j > i:
            y = ops.conv_bn(x, f"{f}.0", f"{f}.1", ch[j], ch[i], 1, 1, False)
            return ops.upsample(y, 2 ** (j - i))
        for k in range(i - j):
            last = k == i - j - 1
            x = ops.conv_bn(x, f"{f}.{k}.0", f"{f}.{k}.1", ch[j], ch[i] if last else ch[j], 3, 2,
                            not last)
        return x

    out = []
    for i in range(nb if multi_scale else 1):
        y = xs[0] if i == 0 else fuse(i, 0, xs[0])
        for j in range(1, nb):
            y = ops.add(y, xs[j] if i == j else fuse(i, j, xs[j]))
        out.append(ops.relu(y))
    return out


def _transition(ops: _Ops, ys: list, t: str, pre: list[int], cur: list[int]) -> list:
    xs = []
    for i in range(len(cur)):
        if i < len(pre):
            if cur[i] != pre[i]:
                # the official forward feeds every non-identity transition with the last branch
                xs.append(ops.conv_bn(ys[-1], f"{t}.{i}.0", f"{t}.{i}.1", pre[i], cur[i], 3, 1, True))
            else:
                xs.append(ys[i])
        else:
            h = ys[-1]
            for j in range(i + 1 - len(pre)):
                cout = cur[i] if j == i - len(pre) else pre[-1]
                h = ops.conv_bn(h, f"{t}.{i}.{j}.0", f"{t}.{i}.{j}.1", pre[-1], cout, 3, 2, True)
            xs.append(h)
    return xs


def _hrnet(ops: _Ops, spec: HRNetSpec, x: Any) -> Any:
    x = ops.conv_bn(x, "conv1", "bn1", 3, STEM_WIDTH, 3, 2, True)
    x = ops.conv_bn(x, "conv2", "bn2", STEM_WIDTH, STEM_WIDTH, 3, 2, True)
    c = STEM_WIDTH
    for b in range(LAYER1_BLOCKS):
        x = _bottleneck(ops, x, f"layer1.{b}", c, STEM_WIDTH)
        c = STEM_WIDTH * BOTTLENECK_EXPANSION
    ys, pre = [x], [c]
    for s, (num_branches, num_modules) in enumerate(STAGES):
        cur = list(spec.widths[:num_branches])
        xs = _transition(ops, ys, f"transition{s + 1}", pre, cur)
        cin = cur
        for m in range(num_modules):
            multi_scale = not (s == len(STAGES) - 1 and m == num_modules - 1)
            xs = _hr_module(ops, xs, f"stage{s + 2}.{m}", cin, cur, multi_scale)
        ys, pre = xs, cur
    return ops.conv_bias(ys[0], "final_layer", spec.widths[0], spec.num_joints, spec.final_kernel)


class _ShapeLister(_Ops):
    """Backend that records every state-dict key and its shape, in the official order."""

    def __init__(self) -> None:
        self.shapes: dict[str, tuple[int, ...]] = {}

    def _bn(self, bn: str, c: int) -> None:
        for suffix in _BN_SUFFIXES:
            self.shapes[f"{bn}.{suffix}"] = () if suffix == "num_batches_tracked" else (c,)

    def conv_bn(self, x, conv, bn, cin, cout, k, stride, relu):
        self.shapes[f"{conv}.weight"] = (cout, cin, k, k)
        self._bn(bn, cout)

    def conv_bias(self, x, conv, cin, cout, k):
        self.shapes[f"{conv}.weight"] = (cout, cin, k, k)
        self.shapes[f"{conv}.bias"] = (cout,)

    def add(self, a, b):
        return None

    def relu(self, x):
        return None

    def upsample(self, x, factor):
        return None


def expected_shapes(spec: HRNetSpec) -> dict[str, tuple[int, ...]]:
    """Every state-dict key of the official layout with this spec, and its shape, in order."""
    lister = _ShapeLister()
    _hrnet(lister, spec, None)
    return lister.shapes


def parameter_count(spec: HRNetSpec) -> int:
    """Learnable parameters before BatchNorm folding (convolution weights and biases, BatchNorm
    weights and biases; not running statistics). W32: 28,536,113; W48: 63,595,745."""
    return sum(int(np.prod(shape)) for key, shape in expected_shapes(spec).items()
               if key.endswith(_LEARNABLE_SUFFIXES))


def check_state_dict(state: dict[str, np.ndarray], spec: HRNetSpec, where: str = "checkpoint",
                     limit: int = 8) -> None:
    """Raise CheckpointError naming every missing, unexpected and mis-shaped key (up to
    ``limit`` of each kind) and every non-floating parameter."""
    expected = expected_shapes(spec)
    missing = [k for k in expected if k not in state and not k.endswith(".num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    misshaped = []
    wrong_dtype = []
    for key, shape in expected.items():
        if key not in state:
            continue
        got = tuple(np.shape(state[key]))
        if key.endswith(".num_batches_tracked"):
            if int(np.prod(got)) != 1:
                misshaped.append(f"'{key}' has shape {got}, expected ()")
        elif got != shape:
            misshaped.append(f"'{key}' has shape {got}, expected {shape}")
        elif not np.issubdtype(state[key].dtype, np.floating):
            wrong_dtype.append(f"'{key}' has dtype {state[key].dtype}, expected floating point")

    def listing(items: list[str], quote: bool) -> str:
        shown = [f"'{x}'" if quote else x for x in items[:limit]]
        more = f" and {len(items) - limit} more" if len(items) > limit else ""
        return ", ".join(shown) + more

    problems = []
    if missing:
        problems.append(f"{len(missing)} missing key(s): {listing(missing, True)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected key(s): {listing(unexpected, True)}")
    if misshaped:
        problems.append(f"{len(misshaped)} mis-shaped key(s): {listing(misshaped, False)}")
    if wrong_dtype:
        problems.append(f"{len(wrong_dtype)} key(s) of the wrong type: {listing(wrong_dtype, False)}")
    if problems:
        widths = "/".join(str(w) for w in spec.widths)
        raise CheckpointError(
            f"{where} does not match {spec.name} (branch widths {widths}, {spec.num_joints} "
            f"joints): " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------
# ONNX backend
# ---------------------------------------------------------------------------------------------


def import_onnx() -> Any:
    """The onnx package (imported here, lazily: this module is the one that imports it), or one clear error."""
    try:
        import onnx  # noqa: PLC0415 - optional at import time of the package
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise AgmaError("the ONNX exporter needs the 'onnx' package: pip install onnx") from exc
    return onnx


class _OnnxBuilder(_Ops):
    """Backend that emits ONNX nodes, folding BatchNorm into each convolution."""

    def __init__(self, onnx: Any, state: dict[str, np.ndarray], eps: float) -> None:
        self.onnx = onnx
        self.helper = onnx.helper
        self.state = state
        self.eps = eps
        self.nodes: list = []
        self.initializers: list = []
        self.consumed: set[str] = set()
        self._count = 0
        self._scales: dict[int, str] = {}

    def _take(self, key: str) -> np.ndarray:
        self.consumed.add(key)
        return np.asarray(self.state[key], dtype=np.float64)

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def _init(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.onnx.numpy_helper.from_array(
            np.ascontiguousarray(array, dtype=np.float32), name=name))
        return name

    def _conv(self, x: str, conv: str, w: np.ndarray, b: np.ndarray, k: int, stride: int) -> str:
        wname = self._init(f"{conv}.weight", w)
        bname = self._init(f"{conv}.bias", b)
        pad = k // 2
        out = conv
        self.nodes.append(self.helper.make_node(
            "Conv", [x, wname, bname], [out], name=conv, kernel_shape=[k, k],
            strides=[stride, stride], pads=[pad, pad, pad, pad], dilations=[1, 1], group=1))
        return out

    def conv_bn(self, x, conv, bn, cin, cout, k, stride, relu):
        w = self._take(f"{conv}.weight")
        gamma, beta = self._take(f"{bn}.weight"), self._take(f"{bn}.bias")
        mean, var = self._take(f"{bn}.running_mean"), self._take(f"{bn}.running_var")
        if f"{bn}.num_batches_tracked" in self.state:
            self.consumed.add(f"{bn}.num_batches_tracked")
        scale = gamma / np.sqrt(var + self.eps)
        out = self._conv(x, conv, w * scale[:, None, None, None], beta - mean * scale, k, stride)
        return self.relu(out) if relu else out

    def conv_bias(self, x, conv, cin, cout, k):
        out = self._conv(x, conv, self._take(f"{conv}.weight"), self._take(f"{conv}.bias"), k, 1)
        return out

    def add(self, a, b):
        out = self._fresh("add")
        self.nodes.append(self.helper.make_node("Add", [a, b], [out], name=out))
        return out

    def relu(self, x):
        out = self._fresh("relu")
        self.nodes.append(self.helper.make_node("Relu", [x], [out], name=out))
        return out

    def upsample(self, x, factor):
        if factor not in self._scales:
            self._scales[factor] = self._init(
                f"upsample_scales_x{factor}", np.array([1, 1, factor, factor], np.float32))
        out = self._fresh(f"upsample_x{factor}")
        # PyTorch's nearest upsampling by an integer factor: source index = floor(dst / factor)
        self.nodes.append(self.helper.make_node(
            "Resize", [x, "", self._scales[factor]], [out], name=out, mode="nearest",
            coordinate_transformation_mode="asymmetric", nearest_mode="floor"))
        return out


def build_hrnet_onnx(state: dict[str, np.ndarray], *, input_hw: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH),
                     where: str = "checkpoint", metadata: dict[str, str] | None = None,
                     eps: float = BN_EPS) -> tuple[Any, HRNetSpec]:
    """State dict -> (onnx.ModelProto, spec). Input ``input`` float32 (N, 3, H, W), output
    ``heatmaps`` float32 (N, joints, H/4, W/4); H and W must be multiples of 32."""
    onnx = import_onnx()
    height, width = input_hw
    if height % 32 or width % 32:
        raise AgmaError(f"input size {height}x{width}: both must be multiples of 32 for HRNet")
    spec = spec_from_state_dict(state)
    check_state_dict(state, spec, where)
    builder = _OnnxBuilder(onnx, state, eps)
    out = _hrnet(builder, spec, INPUT_NAME)
    # rename the final convolution's output to the graph output
    last = builder.nodes[-1]
    assert last.output[0] == out
    last.output[0] = OUTPUT_NAME
    leftover = set(state) - builder.consumed
    if leftover:  # check_state_dict makes this unreachable; kept as the "every key consumed" guard
        raise CheckpointError(f"{where}: keys not used by the graph: {sorted(leftover)[:8]}")
    helper, TensorProto = onnx.helper, onnx.TensorProto
    graph = helper.make_graph(
        builder.nodes, f"pose_hrnet_w{spec.widths[0]}",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, height, width])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT,
                                       ["N", spec.num_joints, height // 4, width // 4])],
        initializer=builder.initializers)
    model = helper.make_model(graph, producer_name="agma", producer_version=_version(),
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = (
        f"PoseHighResolutionNet {spec.name}, BatchNorm folded. Input: RGB scaled to [0,1], "
        "normalised with mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).")
    props = {
        "agma.architecture": "PoseHighResolutionNet",
        "agma.widths": ",".join(str(w) for w in spec.widths),
        "agma.num_joints": str(spec.num_joints),
        "agma.parameters_before_folding": str(parameter_count(spec)),
        "agma.batchnorm_folded": "true",
    }
    props.update(metadata or {})
    helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    return model, spec


def _version() -> str:
    try:
        from appliance import __version__
    except ImportError:  # pragma: no cover
        return "0"
    return __version__


@dataclass(frozen=True)
class ExportReport:
    """What ``export_checkpoint`` wrote."""

    output: Path
    spec: HRNetSpec
    parameters_before_folding: int
    parameters_after_folding: int
    checkpoint_sha256: str
    onnx_sha256: str
    duration_s: float


def export_checkpoint(checkpoint: str | os.PathLike, output: str | os.PathLike, *,
                      input_hw: tuple[int, int] = (INPUT_HEIGHT, INPUT_WIDTH)) -> ExportReport:
    """Read an HRNet ``.pth`` checkpoint safely and write the ONNX graph to ``output``
    (atomically: a temporary file renamed into place). Raises CheckpointError / AgmaError."""
    onnx = import_onnx()
    t0 = time.perf_counter()
    checkpoint, output = Path(checkpoint), Path(output)
    state = read_state_dict(checkpoint)
    ckpt_sha = sha256_file(checkpoint)
    model, spec = build_hrnet_onnx(
        state, input_hw=input_hw, where=str(checkpoint),
        metadata={"agma.source_checkpoint": checkpoint.name, "agma.source_sha256": ckpt_sha})
    after = sum(int(np.prod(t.dims)) for t in model.graph.initializer)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    try:
        onnx.save_model(model, str(tmp))
        os.replace(tmp, output)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AgmaError(f"cannot write {output}: {exc.strerror or exc}") from None
    return ExportReport(output=output, spec=spec, parameters_before_folding=parameter_count(spec),
                        parameters_after_folding=after, checkpoint_sha256=ckpt_sha,
                        onnx_sha256=sha256_file(output), duration_s=time.perf_counter() - t0)
