"""`agma engine export|info`: turn an HRNet checkpoint into ONNX, and describe an ONNX file.

    agma engine export --checkpoint pose_hrnet_w32_384x288.pth -o hrnet_w32.onnx [--json]
    agma engine info hrnet_w32.onnx [--json]

``export`` reads the ``.pth`` with the safe reader (appliance.pose.checkpoint: no PyTorch, no
code from the file is run) and writes the BatchNorm-folded graph (appliance.pose.hrnet_onnx).
``info`` prints the input/output names and shapes, opset, parameter count and sha256 of any
ONNX file, and whether it honours the model contract (DESIGN.md).
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import AgmaError, UsageError
from ..output import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("engine", parents=[common],
                       help="export an HRNet checkpoint to ONNX; describe an ONNX model")
    actions = p.add_subparsers(dest="engine_action", metavar="ACTION", required=True)
    ex = actions.add_parser("export", parents=[common],
                            help="HRNet .pth (official layout, any width) -> ONNX, BatchNorm folded")
    ex.add_argument("--checkpoint", required=True, metavar="F.pth",
                    help="PyTorch checkpoint (zip or legacy format; wrappers and module. prefixes accepted)")
    ex.add_argument("-o", "--output", required=True, metavar="F.onnx", help="ONNX file to write")
    ex.set_defaults(handler=run)
    info = actions.add_parser("info", parents=[common],
                              help="input/output names and shapes, opset, parameters, sha256 of an ONNX file")
    info.add_argument("file", metavar="FILE", help="ONNX model")
    info.set_defaults(handler=run)
    p.set_defaults(handler=run)


def run(args) -> int:
    action = getattr(args, "engine_action", None)
    if action == "export":
        return _export(args)
    if action == "info":
        return _info(args)
    raise UsageError("agma engine needs an action: export or info")


def _export(args) -> int:
    from ..pose.hrnet_onnx import export_checkpoint

    checkpoint, output = Path(args.checkpoint), Path(args.output)
    if output.suffix.lower() != ".onnx":
        raise UsageError(f"-o {output}: the output file should end in .onnx")
    report = export_checkpoint(checkpoint, output)
    doc = {
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": report.checkpoint_sha256,
        "output": str(report.output),
        "sha256": report.onnx_sha256,
        "architecture": "PoseHighResolutionNet",
        "widths": list(report.spec.widths),
        "num_joints": report.spec.num_joints,
        "parameters_before_folding": report.parameters_before_folding,
        "parameters_after_folding": report.parameters_after_folding,
        "duration_s": round(report.duration_s, 3),
    }
    if args.json:
        emit_json(doc)
    else:
        print(f"wrote {report.output} ({report.spec.name}, {report.spec.num_joints} joints, "
              f"{report.parameters_before_folding:,} parameters before BatchNorm folding, "
              f"{report.duration_s:.2f} s)")
        print(f"sha256 {report.onnx_sha256}")
    return 0


class _Arg:
    """An ONNX graph input/output in the form check_contract reads (ORT-style type string)."""

    def __init__(self, name: str, type_: str, shape: list) -> None:
        self.name, self.type, self.shape = name, type_, shape


def describe_onnx(path: str | os.PathLike) -> dict:
    """Everything ``agma engine info`` reports about an ONNX file, as a JSON-ready dict."""
    from ..files import sha256_file
    from ..pose.hrnet_onnx import import_onnx
    from ..pose.onnx_engine import ModelContractError, check_contract

    onnx = import_onnx()
    path = Path(path)
    if not path.is_file():
        raise AgmaError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise AgmaError(f"{path}: not an ONNX model ({type(exc).__name__}: {exc})") from None
    if not model.graph.node and not model.graph.input:
        raise AgmaError(f"{path}: not an ONNX model (empty graph)")
    initializer_names = {t.name for t in model.graph.initializer}

    def arg(value_info) -> dict:
        tt = value_info.type.tensor_type
        dtype = onnx.TensorProto.DataType.Name(tt.elem_type).lower() if tt.elem_type else "unknown"
        shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or None)
                 for d in tt.shape.dim] if tt.HasField("shape") else None
        return {"name": value_info.name, "dtype": dtype, "shape": shape}

    inputs = [arg(v) for v in model.graph.input if v.name not in initializer_names]
    outputs = [arg(v) for v in model.graph.output]
    parameters = sum(_numel(t.dims) for t in model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            parameters += sum(_numel(a.t.dims) for a in node.attribute if a.name == "value")
    metadata = {p.key: p.value for p in model.metadata_props}
    ort_type = {"float": "tensor(float)"}

    def as_arg(d: dict) -> _Arg:
        return _Arg(d["name"], ort_type.get(d["dtype"], f"tensor({d['dtype']})"), d["shape"] or [])

    try:
        check_contract([as_arg(d) for d in inputs], [as_arg(d) for d in outputs], str(path))
        contract = None
    except ModelContractError as exc:
        contract = str(exc)
    before = metadata.get("agma.parameters_before_folding")
    return {
        "file": str(path),
        "size_bytes": path.stat().st_size,
        "sha256": sha256_file(path),
        "ir_version": model.ir_version,
        "opset": {(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": inputs,
        "outputs": outputs,
        "nodes": len(model.graph.node),
        "parameters": parameters,
        "parameters_before_folding": int(before) if before and before.isdigit() else None,
        "honours_model_contract": contract is None,
        "contract_problem": contract,
        "metadata": metadata,
    }


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def _shape_text(shape) -> str:
    if shape is None:
        return "?"
    return "[" + ",".join(str(d) if d is not None else "?" for d in shape) + "]"


def _info(args) -> int:
    doc = describe_onnx(args.file)
    if args.json:
        emit_json(doc)
        return 0
    print(f"file        {doc['file']} ({doc['size_bytes']:,} bytes)")
    print(f"sha256      {doc['sha256']}")
    print("opset       " + ", ".join(f"{d} {v}" for d, v in doc["opset"].items())
          + f" (IR version {doc['ir_version']})")
    if doc["producer"]:
        print(f"producer    {doc['producer']}")
    for role in ("inputs", "outputs"):
        for a in doc[role]:
            print(f"{role[:-1]:<11} {a['name']}: {a['dtype']} {_shape_text(a['shape'])}")
    params = f"{doc['parameters']:,}"
    if doc["parameters_before_folding"] is not None:
        params += f" ({doc['parameters_before_folding']:,} before BatchNorm folding)"
    print(f"parameters  {params}")
    print("contract    " + ("honoured" if doc["honours_model_contract"] else doc["contract_problem"]))
    return 0
