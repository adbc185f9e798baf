"""`agma bench` (no names) / `agma bench stages`: every stage of a frame pair side by side, one row each.

Rows, in data-path order, each with ``median_us`` per frame pair and ``budget_share`` (of the
33.3 ms a pair has at 30 FPS), or ``skipped_reason`` where it cannot run here:

- ``ring``: the HD720 pair crossing from the capture process (capture/ring.py ``bench_ring``, into
  reused buffers), ``ratio_vs_reference`` against a ``multiprocessing.Queue`` of the same arrays;
- ``preprocess_cpu``: two views cropped, warped and normalised into the engine's batch
  (pose/preprocess.py), against a reference-style path (per view ``cv2.warpAffine``, float64
  normalisation, then HWC->CHW: what mmpose's TopdownAffine + PackPoseInputs amount to);
- ``preprocess_cuda``: the GPU path (bench/preprocess.py: the views copied once into pinned memory,
  uploaded, pose/cuda/preprocess.cuh launched into an engine-shaped input), where pycuda and a GPU
  are; skipped with the reason elsewhere (`agma bench preprocess --check` checks the kernel against
  OpenCV, on the host shim and on the GPU);
- ``engine_onnxruntime``: ONNX Runtime, batch 2, on ``--onnx F.onnx``, else on an HRNet-W32
  graph of the real architecture with seeded random weights (pose/export/hrnet_onnx.py: the cost
  does not depend on the weights' values);
- ``engine_tensorrt``: ``--engine F.engine`` on TensorRT (the box), else skipped;
- ``decode_numpy`` / ``decode_cuda``: DARK on both views' 17 maps (pose/decode.py), against the
  per-joint reference decoder (pose/decode_reference.py); the CUDA decoder where pycuda and a GPU are;
- ``triangulate``: 17 joints with validity (stereo/);
- ``store``: the writer thread's ingest, amortised over its commits;
- ``mqtt_publish``: one status publication (payload, JSON, paho's publish at QoS 1) to a Mosquitto
  of our own — a status goes out on a change and every mqtt.heartbeat_s, not per frame, so its
  share is an upper bound;
- ``pipeline``: the whole runtime's throughput (bench/soak.py for ``PIPELINE_FRAMES`` frames,
  offline, simulated model: capture, pose stand-in, triangulation, store), as µs per pair.

Allocations per frame pair: ``alloc_peak_bytes_per_frame`` on the CPU rows of the pose and stereo
stages (bench.alloc_peak_bytes: the most memory one call had allocated at once beyond what was live
before it, by tracemalloc, apart from the timings). The pose stage reuses its batch and crop
buffers (``Preprocessor.batch(reuse=True)``): some tens of kB of NumPy's cast buffers remain, against
~3 MB for the reference-style path; the GPU path allocates its pinned and device buffers once per
image size (``allocations_after_warmup`` of ``preprocess_cuda``); the capture reader copies each
pair into a pooled block (capture/frame_pool.py), as the ring row is timed.

The machine, Python and which rows ran on a GPU are in the JSON. Under five minutes here.
"""
from __future__ import annotations

import itertools
import json
import queue
import time
from typing import Any

import numpy as np

from .. import bench

BUDGET_US = 1e6 / 30.0
PIPELINE_FRAMES = 3000
STAGES = ("ring", "preprocess_cpu", "preprocess_cuda", "engine_onnxruntime", "engine_tensorrt", "decode_numpy",
          "decode_cuda", "triangulate", "store", "mqtt_publish", "pipeline")


def _row(name: str, median_us: float | None, **extra) -> dict:
    share = None if median_us is None else round(median_us / BUDGET_US, 4)
    return {"name": name, "median_us": None if median_us is None else round(median_us, 1), "budget_share": share,
            **extra}


def _skipped(name: str, reason: str) -> dict:
    return {"name": name, "median_us": None, "budget_share": None, "skipped_reason": reason}


def _guarded(name: str, fn) -> dict:
    """A row, or a skipped row with the one-line reason when the stage cannot run here."""
    from ..errors import AgmaError

    try:
        return fn()
    except AgmaError as exc:
        return _skipped(name, str(exc))


def reference_preprocess(images, crops) -> np.ndarray:
    """The reference-style preprocessing of both views: per view an affine warp (cv2.warpAffine,
    bilinear, constant border), then float64 /255, mean/std and HWC->CHW, stacked. The numbers equal
    pose/preprocess.py's to float32 rounding (checked in tests/bench/test_stage_rows.py)."""
    import cv2

    from ..pose.engine import INPUT_HEIGHT, INPUT_WIDTH, MODEL_MEAN, MODEL_STD

    out = []
    for image, crop in zip(images, crops):
        warped = cv2.warpAffine(image, crop.image_to_input, (INPUT_WIDTH, INPUT_HEIGHT),
                                flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        rgb = warped[:, :, ::-1].astype(np.float64) / 255.0
        out.append(((rgb - np.array(MODEL_MEAN)) / np.array(MODEL_STD)).transpose(2, 0, 1))
    return np.stack(out).astype(np.float32)


def _frame():
    from ..capture.synthetic import SyntheticSource

    source = SyntheticSource(seed=0, n_frames=2, paced=False, render=True)
    return source.frame_at(1, 0)


def _ring(repeat: int) -> dict:
    from ..capture.ring import bench_ring

    rows = {r["name"]: r for r in bench_ring(repeat=max(20, min(repeat, 100)))}
    ring, q = rows["ring_hd720_pair_into_buffers"], rows["queue_hd720_pair"]
    return _row("ring", ring["median_us"], ratio_vs_reference=round(q["median_us"] / ring["median_us"], 1),
                reference="multiprocessing.Queue of the same two arrays", reference_median_us=q["median_us"],
                alloc_note="timed into reused buffers, as the runtime's reader copies (runtime/camera_process.py: "
                           "pooled blocks, capture/frame_pool.py, reused once a frame is let go)")


def _preprocess(frame, repeat: int) -> dict:
    from ..pose.preprocess import CropPolicy, Preprocessor
    from .engine import WARMER_ROI

    pre = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI))
    crops, _ = pre.crops(frame)
    ours = bench.median_us(lambda: pre.batch(frame, crops, reuse=True), repeat=repeat)  # the pose stage's call
    images = (frame.left, frame.right)
    ref = bench.median_us(lambda: reference_preprocess(images, crops), repeat=max(10, repeat // 4))
    return _row("preprocess_cpu", ours, ratio_vs_reference=round(ref / ours, 2),
                reference="cv2.warpAffine per view, float64 normalise, HWC->CHW", reference_median_us=round(ref, 1),
                alloc_peak_bytes_per_frame=bench.alloc_peak_bytes(lambda: pre.batch(frame, crops, reuse=True)),
                reference_alloc_peak_bytes_per_frame=bench.alloc_peak_bytes(lambda: reference_preprocess(images, crops)))


def _preprocess_cuda(repeat: int) -> dict:
    from .preprocess import gpu_row

    row = gpu_row(repeat, check=False)
    if row.get("median_us") is None:
        return _skipped("preprocess_cuda", row["skipped_reason"])
    extra = {k: v for k, v in row.items() if k not in ("name", "median_us")}
    return _row("preprocess_cuda", row["median_us"], gpu=True, **extra)


def random_hrnet_w32_onnx() -> bytes:
    """An HRNet-W32 384x288 ONNX graph (the model contract's I/O) with seeded random weights."""
    from ..pose.export.hrnet_onnx import HRNetSpec, build_hrnet_onnx, expected_shapes

    spec = HRNetSpec(widths=(32, 64, 128, 256), num_joints=17)
    rng = np.random.default_rng(0)
    state = {}
    for key, shape in expected_shapes(spec).items():
        if key.endswith("running_var"):
            state[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif key.endswith("num_batches_tracked"):
            state[key] = np.zeros(shape, np.int64)
        else:
            state[key] = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    model, _ = build_hrnet_onnx(state, where="random HRNet-W32")
    return model.SerializeToString()


def _onnxruntime(frame, onnx_path: str | None, repeat: int) -> dict:
    import tempfile
    from pathlib import Path

    from ..pose.engines.onnx_runtime import OnnxEngine
    from ..pose.preprocess import CropPolicy, Preprocessor
    from .engine import WARMER_ROI

    pre = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI))
    batch = pre.batch(frame, pre.crops(frame)[0])
    with tempfile.TemporaryDirectory(prefix="agma-bench-") as tmp:
        model = onnx_path
        if model is None:
            model = str(Path(tmp) / "hrnet_w32_random.onnx")
            Path(model).write_bytes(random_hrnet_w32_onnx())
        engine = OnnxEngine(model)
        t = bench.median_us(lambda: engine.infer(batch), repeat=max(3, min(repeat, 10)), warmup=1)
    return _row("engine_onnxruntime", t, provider=engine.providers[0],
                model=onnx_path or "HRNet-W32 384x288, seeded random weights")


def _tensorrt(frame, engine_path: str | None, repeat: int) -> dict:
    if not engine_path:
        return _skipped("engine_tensorrt", "no --engine F.engine given (TensorRT runs on the box: "
                                           "agma engine build, then agma bench --engine F.engine)")
    from ..pose.engines.tensorrt_engine import open_engine
    from ..pose.preprocess import CropPolicy, Preprocessor
    from .engine import WARMER_ROI

    engine = open_engine(engine_path)
    try:
        pre = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI))
        batch = pre.batch(frame, pre.crops(frame)[0])
        t = bench.median_us(lambda: engine.infer(batch), repeat=max(20, repeat // 2), warmup=3)
        return _row("engine_tensorrt", t, precision=engine.sidecar.precision, gpu=engine.sidecar.gpu_name)
    finally:
        engine.close()


def _decode_numpy(repeat: int) -> dict:
    from ..pose import decode, decode_reference
    from .decode import realistic_frame_pairs

    pairs = itertools.cycle(realistic_frame_pairs())
    ours = bench.median_us(lambda: decode.decode_heatmaps(next(pairs), method="dark"), repeat=repeat)
    alloc = bench.alloc_peak_bytes(lambda: decode.decode_heatmaps(next(pairs), method="dark"))
    ref = bench.median_us(lambda: decode_reference.decode_heatmaps_reference(next(pairs), method="dark"),
                          repeat=max(10, repeat // 10))
    return _row("decode_numpy", ours, ratio_vs_reference=round(ref / ours, 2), alloc_peak_bytes_per_frame=alloc,
                reference="per-joint DARK (pose/decode_reference.py)", reference_median_us=round(ref, 1))


def _decode_cuda(repeat: int) -> dict:
    from .decode_cuda import bench_decode_cuda

    rows = bench_decode_cuda(type("A", (), {"repeat": repeat, "seed": 0})())
    dark = [r for r in rows if r.get("name") == "decode_cuda_dark_float32"]
    if not dark:
        return _skipped("decode_cuda", rows[0].get("reason") or "the CUDA decoder did not run")
    return _row("decode_cuda", dark[0]["median_us"], device=dark[0].get("device"), gpu=True)


def _triangulate(repeat: int) -> dict:
    from .triangulate import bench_triangulate

    [row] = bench_triangulate(type("A", (), {"repeat": repeat})())
    return _row("triangulate", row["median_us"], alloc_peak_bytes_per_frame=row["alloc_peak_bytes_per_frame"])


def _store(frame, repeat: int) -> dict:
    from ..pose.preprocess import CropPolicy, Preprocessor
    from ..stereo.stage import to_pose3d
    from ..stereo.validity import ValidityRules
    from .engine import WARMER_ROI, store_us_per_frame, truth_keypoints

    _, _, left, right = truth_keypoints(frame, Preprocessor(CropPolicy(roi_xywh=WARMER_ROI)))
    pose = to_pose3d(frame, left, right, ValidityRules())
    return _row("store", store_us_per_frame([pose], frame.calibration, n=max(500, repeat * 4)))


def _mqtt_publish(repeat: int) -> dict:
    from ..status.mqtt import Link, LinkEvent, Security
    from ..status.payloads import status_payload
    from .fleet import BenchError, LocalBroker

    try:
        broker = LocalBroker()
    except BenchError as exc:
        return _skipped("mqtt_publish", str(exc))
    with broker:
        inbox: queue.Queue = queue.Queue()
        link = Link("bench-mqtt", "127.0.0.1", broker.port, "agma-bench-stages", Security(), 30, inbox)
        link.start()
        try:
            end = time.monotonic() + 30.0
            while True:
                item = inbox.get(timeout=max(0.1, end - time.monotonic()))
                if isinstance(item, LinkEvent) and item.kind == "connected":
                    break
                if time.monotonic() > end:
                    return _skipped("mqtt_publish", "the bench's own Mosquitto did not accept the connection")
            doc = {"ok": True, "state": "recording", "health": "ok", "frames": 1234, "fps": 30.0, "camera": "ok"}

            def publish() -> None:
                payload = status_payload(doc, box_id="bench", software_version="bench", heartbeat_s=10.0,
                                         now_ns=time.time_ns(), session_started_ns=time.time_ns(),
                                         valid_joint_ratio=0.98, last_event=None)
                link.publish("agma/bench/status", json.dumps(payload), qos=1, retain=True)

            t = bench.median_us(publish, repeat=max(50, repeat), warmup=5)
        finally:
            link.stop()
    return _row("mqtt_publish", t, note="per publication; a status goes out on a change and every "
                                        "mqtt.heartbeat_s, far fewer than one per frame pair (the share is an upper bound)")


def _pipeline() -> dict:
    from .soak import run_soak

    row = run_soak(PIPELINE_FRAMES)
    return _row("pipeline", row["us_per_frame"], frames=row["frames"], dropped_frames=row["dropped_frames"],
                fps=row["fps"], thread_cpu_s=row["thread_cpu_s"], stage_concurrency=row["stage_concurrency"],
                note="the runtime offline with the simulated model: capture, pose stand-in, "
                                     "triangulation, store (the engine's rows are above)")


@bench.register("stages")
def bench_stages(args: Any) -> list[dict]:
    repeat = int(getattr(args, "repeat", None) or 200)
    frame = _frame()
    rows = [
        _guarded("ring", lambda: _ring(repeat)),
        _guarded("preprocess_cpu", lambda: _preprocess(frame, repeat)),
        _guarded("preprocess_cuda", lambda: _preprocess_cuda(repeat)),
        _guarded("engine_onnxruntime", lambda: _onnxruntime(frame, getattr(args, "onnx", None), repeat)),
        _guarded("engine_tensorrt", lambda: _tensorrt(frame, getattr(args, "engine", None), repeat)),
        _guarded("decode_numpy", lambda: _decode_numpy(repeat)),
        _guarded("decode_cuda", lambda: _decode_cuda(repeat)),
        _guarded("triangulate", lambda: _triangulate(repeat)),
        _guarded("store", lambda: _store(frame, repeat)),
        _guarded("mqtt_publish", lambda: _mqtt_publish(repeat)),
        _guarded("pipeline", _pipeline),
    ]
    assert tuple(r["name"] for r in rows) == STAGES
    return rows
