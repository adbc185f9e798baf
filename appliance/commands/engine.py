"""`agma engine export|info|build|verify`: checkpoint -> ONNX -> TensorRT, describe, compare two models.

    agma engine export --checkpoint pose_hrnet_w32_384x288.pth -o hrnet_w32.onnx [--json]
    agma engine info hrnet_w32.onnx|hrnet_w32.engine [--json]
    agma engine build --onnx hrnet_w32.onnx -o hrnet_w32.engine [--fp16] [--batch 2|4] [--workspace-mb N]
    agma engine verify --onnx hrnet_w32.onnx --against G [--frames DIR] [--json]
    agma engine kernels [--sm 87] [--toolchain auto|nvrtc|nvcc] [--ptx] [--json]

``export`` reads the ``.pth`` with the safe reader (appliance.pose.export.checkpoint: no PyTorch, no
code from the file is run) and writes the BatchNorm-folded graph (appliance.pose.export.hrnet_onnx).
``info`` prints the input/output names and shapes, opset, parameter count and sha256 of any
ONNX file, and whether it honours the model contract (DESIGN.md). ``verify`` runs the same views
(seeded random ones, and a replay folder's frames with --frames) through a reference ONNX model and
a candidate (another ONNX file, or a TensorRT engine where tensorrt is installed) and compares the
numbers (appliance.pose.engines.verify): exit 1 when the decoded joints' p95 differs by more than 0.5 px or
a heatmap value by more than 1 % of the reference's range. ``build`` and engine files need
tensorrt (appliance.pose.engines.tensorrt_engine; the box only): ``info`` of an engine prints its sidecar
(appliance.pose.engines.sidecar) and whether it matches this TensorRT and GPU.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ..errors import AgmaError, UsageError
from ..output import emit_json


def register(sub, common) -> None:
    p = sub.add_parser("engine", parents=[common],
                       help="export an HRNet checkpoint to ONNX, build and verify TensorRT engines, compile the CUDA decoder")
    actions = p.add_subparsers(dest="engine_action", metavar="ACTION", required=True)
    ex = actions.add_parser("export", parents=[common],
                            help="HRNet .pth (official layout, any width) -> ONNX, BatchNorm folded")
    ex.add_argument("--checkpoint", required=True, metavar="F.pth",
                    help="PyTorch checkpoint (zip or legacy format; wrappers and module. prefixes accepted)")
    ex.add_argument("-o", "--output", required=True, metavar="F.onnx", help="ONNX file to write")
    ex.set_defaults(handler=run)
    info = actions.add_parser("info", parents=[common],
                              help="an ONNX file: names, shapes, opset, parameters, sha256; a TensorRT engine: "
                                   "its sidecar and whether it matches this TensorRT and GPU")
    info.add_argument("file", metavar="FILE", help="ONNX model, or TensorRT engine (.engine, .plan)")
    build = actions.add_parser("build", parents=[common],
                               help="ONNX -> TensorRT engine (+ JSON sidecar) for this box's GPU; needs tensorrt")
    build.add_argument("--onnx", required=True, metavar="F.onnx", help="the ONNX model (agma engine export)")
    build.add_argument("-o", "--output", required=True, metavar="F.engine", help="engine file to write")
    build.add_argument("--fp16", action="store_true", help="FP16 where the GPU has fast FP16")
    build.add_argument("--batch", type=int, choices=(2, 4), default=4,
                       help="largest batch of the profile: 2 (both views) or 4 (with the flip test; default)")
    build.add_argument("--workspace-mb", type=int, default=1024, metavar="N", help="builder workspace (default 1024)")
    build.set_defaults(handler=run)
    info.set_defaults(handler=run)
    ver = actions.add_parser("verify", parents=[common],
                             help="run two models on the same views; compare heatmaps and decoded joints")
    ver.add_argument("--onnx", required=True, metavar="F.onnx", help="the reference ONNX model")
    ver.add_argument("--against", required=True, metavar="G",
                     help="the candidate: another ONNX file, or a TensorRT engine (.engine/.plan; needs tensorrt)")
    ver.add_argument("--frames", metavar="DIR", help="also a replay folder's recorded frames (both views)")
    ver.add_argument("--views", type=int, default=8, metavar="N", help="seeded random views (default 8)")
    ver.add_argument("--max-frames", type=int, default=16, metavar="N",
                     help="recorded frames read from --frames at most (default 16)")
    ver.add_argument("--seed", type=int, default=0, help="seed of the random views (default 0)")
    ver.set_defaults(handler=run)
    ker = actions.add_parser("kernels", parents=[common],
                             help="compile the CUDA heatmap decoder for this box's GPU (cached; install step)")
    ker.add_argument("--sm", type=int, default=None, metavar="N",
                     help="compute capability as one number, e.g. 87 for Orin (default: this machine's GPU)")
    ker.add_argument("--cache-dir", default=None, metavar="DIR", help="cubin cache (default $AGMA_CACHE_DIR or ~/.cache/agma)")
    ker.add_argument("--toolchain", default="auto", choices=("auto", "nvrtc", "nvcc"),
                     help="NVRTC, nvcc, or the first that works (default)")
    ker.add_argument("--ptx", action="store_true", help="also report the PTX ISA version NVRTC emits")
    ker.set_defaults(handler=run)
    p.set_defaults(handler=run)


def run(args) -> int:
    action = getattr(args, "engine_action", None)
    if action == "export":
        return _export(args)
    if action == "info":
        return _info(args)
    if action == "verify":
        return _verify(args)
    if action == "build":
        return _build(args)
    if action == "kernels":
        return _kernels(args)
    raise UsageError("agma engine needs an action: export, info, build, verify or kernels")


def _kernels(args) -> int:
    """Compile (or find cached) the decoder's cubin for --sm or this machine's GPU; one JSON line."""
    from ..pose.cuda import build as cuda_build

    sm = args.sm
    if sm is None:
        from ..pose.cuda.decoder import CudaUnavailable, device_sm

        try:
            sm = device_sm()
        except CudaUnavailable as exc:
            raise AgmaError(f"{exc}: give the GPU's compute capability with --sm (87 for Orin)") from None
    if not 30 <= sm <= 130:
        raise UsageError(f"--sm {sm}: expected a compute capability as one number, e.g. 87 for Orin")
    built = cuda_build.build_cubin(sm, args.cache_dir, args.toolchain)  # CudaBuildError: one line
    doc = built.as_dict()
    if args.ptx:
        ptx, _ = cuda_build.Nvrtc().compile(cuda_build.KERNEL_SOURCE, f"compute_{sm}")
        doc["ptx_version"] = "%d.%d" % cuda_build.ptx_version(ptx)
    if args.json:
        emit_json(doc)
    else:
        print(f"{'found' if doc['cached'] else 'built'} {doc['cubin']} (sm_{doc['sm']}, {doc['toolchain']} "
              f"CUDA {doc['cuda_version']}" + (f", PTX {doc['ptx_version']}" if "ptx_version" in doc else "") + ")")
    return 0


def _export(args) -> int:
    from ..pose.export.hrnet_onnx import export_checkpoint

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
    from ..pose.export.hrnet_onnx import import_onnx
    from ..pose.engines.onnx_runtime import ModelContractError, check_contract

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


def _build(args) -> int:
    from ..pose.engines.tensorrt_engine import build_engine_file

    output = Path(args.output)
    if output.suffix.lower() not in (".engine", ".plan"):
        raise UsageError(f"-o {output}: the engine file should end in .engine or .plan")
    sidecar = build_engine_file(args.onnx, output, fp16=args.fp16, batch=args.batch, workspace_mb=args.workspace_mb)
    if args.json:
        emit_json({"output": str(output), **dataclasses.asdict(sidecar)})
    else:
        print(f"wrote {output} ({sidecar.precision}, batch {sidecar.profile_min_batch}-{sidecar.profile_max_batch}, "
              f"TensorRT {sidecar.tensorrt_version}, {sidecar.gpu_name} sm {sidecar.compute_capability})")
    return 0


def _engine_info(args) -> int:
    """A TensorRT engine's sidecar, and whether it matches this machine (where TensorRT is installed)."""
    from ..pose.engines.sidecar import check, read_sidecar
    from ..pose.engines.tensorrt_engine import describe_runtime, import_tensorrt

    path = Path(args.file)
    if not path.is_file():
        raise AgmaError(f"{path}: no such TensorRT engine file")
    sidecar = read_sidecar(path)
    try:
        trt = import_tensorrt()
        from ..pose.cuda.decoder import driver

        refusal = check(sidecar, describe_runtime(trt, driver()), engine_path=path)
        matches, why = refusal is None, refusal
    except AgmaError as exc:
        matches, why = None, str(exc)
    doc = {"file": str(path), "size_bytes": path.stat().st_size, **dataclasses.asdict(sidecar),
           "matches_this_machine": matches, "mismatch": why}
    if args.json:
        emit_json(doc)
        return 0
    for key, value in dataclasses.asdict(sidecar).items():
        print(f"{key:<19} {value}")
    print("this machine        " + ("matches" if matches else ("unknown: " + why if matches is None else why)))
    return 0


def _info(args) -> int:
    from ..pose.engines.tensorrt_engine import is_engine_file

    if is_engine_file(args.file):
        return _engine_info(args)
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


def _open_model(path: Path, role: str):
    """An ONNX file on ONNX Runtime, or a TensorRT engine by its suffix; one line when it cannot run."""
    from ..pose.engines import tensorrt_engine

    if tensorrt_engine.is_engine_file(path):
        return tensorrt_engine.open_engine(path)
    if path.suffix.lower() != ".onnx":
        raise UsageError(f"{role} {path}: expected an .onnx file or a TensorRT engine (.engine, .plan)")
    from ..pose.engines.onnx_runtime import OnnxEngine

    return OnnxEngine(path)


def _verify_inputs(args, cfg):
    """(batch float32 (N, 3, 384, 288), crops (N,), source counts): seeded random views, then recorded frames."""
    import numpy as np

    from ..pose.engine import INPUT_HEIGHT, INPUT_WIDTH
    from ..pose.preprocess import CropPolicy, Preprocessor, normalise_into, roi_crop
    from ..pose.engines.verify import random_views

    if args.views < 0 or args.max_frames < 1:
        raise UsageError("--views must be >= 0 and --max-frames >= 1")
    convention = cfg["pose.convention"]
    images = random_views(args.views, args.seed)
    crops = [roi_crop((im.shape[1], im.shape[0]), None, convention) for im in images]
    batch = np.empty((len(images), 3, INPUT_HEIGHT, INPUT_WIDTH), np.float32)
    for i, (im, crop) in enumerate(zip(images, crops)):
        normalise_into(crop.warp(im), batch[i])
    parts, recorded = [batch], 0
    if args.frames:
        from ..capture.replay import ReplaySource

        # the pose stage's own preprocessing of each frame, from the configured region of interest
        pre = Preprocessor(CropPolicy(roi_xywh=tuple(cfg["pose.roi_px"]), track=False, convention=convention))
        source = ReplaySource(args.frames, paced=False)
        try:
            for frame in source.frames():
                frame_crops, _ = pre.crops(frame)
                parts.append(pre.batch(frame, frame_crops))
                crops.extend(frame_crops)
                recorded += 1
                if recorded >= args.max_frames:
                    break
        finally:
            source.close()
        if recorded == 0:
            raise AgmaError(f"--frames {args.frames}: the replay folder holds no frames")
    if not crops:
        raise UsageError("nothing to compare: --views 0 and no --frames")
    return np.concatenate(parts, axis=0), crops, {"random_views": len(images), "recorded_frames": recorded}


def _infer(engine, batch, where: Path):
    """The batch in the largest slices the model takes: its fixed batch, its profile's maximum, or 4."""
    import numpy as np

    chunk = getattr(engine, "fixed_batch", None) or getattr(engine, "max_batch", None) or 4
    try:
        return np.concatenate([engine.infer(batch[i:i + chunk]) for i in range(0, batch.shape[0], chunk)], axis=0)
    except ValueError as exc:  # a fixed batch that does not divide the views
        raise AgmaError(f"{where}: {exc}") from None


def _verify(args) -> int:
    import time

    from .. import config as config_mod
    from ..pose.engines.verify import compare_heatmaps

    cfg = config_mod.load(args.config)
    reference_path, candidate_path = Path(args.onnx), Path(args.against)
    if reference_path.suffix.lower() != ".onnx":
        raise UsageError(f"--onnx {reference_path}: the reference should be an .onnx file")
    reference = _open_model(reference_path, "--onnx")
    candidate = _open_model(candidate_path, "--against")
    try:
        batch, crops, counts = _verify_inputs(args, cfg)
        t0 = time.perf_counter()
        hm_ref = _infer(reference, batch, reference_path)
        t1 = time.perf_counter()
        hm_cand = _infer(candidate, batch, candidate_path)
        t2 = time.perf_counter()
    finally:
        close = getattr(candidate, "close", None)  # a TensorRT engine frees its CUDA context
        if close is not None:
            close()
    figures = compare_heatmaps(hm_ref, hm_cand, crops, decoder=cfg["pose.decoder"])
    doc = {**figures.as_json(), **counts,
           "reference": str(reference_path), "candidate": str(candidate_path),
           "reference_sha256": reference.info.sha256, "candidate_sha256": candidate.info.sha256,
           "decoder": cfg["pose.decoder"],
           "reference_infer_s": round(t1 - t0, 4), "candidate_infer_s": round(t2 - t1, 4)}
    if args.json:
        emit_json(doc)
    else:
        def px(name: str) -> str:
            v = getattr(figures, name)
            return "n/a" if v != v else f"{v:.4g} px"  # NaN: no joint to take it over

        print(f"inputs      {counts['random_views']} seeded random views, {counts['recorded_frames']} recorded "
              f"frames ({figures.views} views)")
        print(f"heatmaps    max |diff| {figures.heatmap_max_abs:.4g} = {100 * figures.heatmap_max_rel:.4g} % "
              f"of the reference's range ({figures.reference_range:.4g})")
        print(f"keypoints   all {figures.joints} decoded joints: p50 {px('kp_px_p50')}, p95 {px('kp_px_p95')}, "
              f"max {px('kp_px_max')}")
        print(f"            {figures.joints_confident} with score >= 0.3: p50 {px('kp_px_p50_confident')}, "
              f"p95 {px('kp_px_p95_confident')}, max {px('kp_px_max_confident')}")
        print("verdict     " + ("ok" if figures.ok else "FAILED: " + "; ".join(figures.failures)))
    return 0 if figures.ok else 1
