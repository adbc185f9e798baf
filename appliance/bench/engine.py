"""Bench rows `agma bench engine [--onnx F.onnx] [--engine F.engine]`: per frame pair, inference alone and everything else.

Everything else is what the inference thread (and the writer thread) spend per stereo pair
outside the network: preprocessing (two crops, warps and normalisation into one batch, with
and without the flip test), decoding both views (DARK), triangulation with validity, and the
store's ingest. Their sum is compared with the 5 ms budget of issue 5. The inference rows need
``--onnx`` (ONNX Runtime, CPU or CUDA); without it they are reported as skipped.

The frame is a rendered synthetic 1280x720 pair; the heatmaps decoded are the DARK targets of
its true joints (a trained network's maps look like that; a random-weight export's do not).
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import __version__, bench
from ..capture.synthetic import SyntheticSource
from ..frames import Keypoints2D
from ..pose.crop import flip_back
from ..pose.decode import decode_to_image, encode
from ..pose.preprocess import CropPolicy, Preprocessor
from ..stereo.stage import to_pose3d
from ..stereo.validity import ValidityRules

BUDGET_MS = 5.0
WARMER_ROI = (200.0, 0.0, 880.0, 720.0)


def store_us_per_frame(poses, calibration, n: int) -> float:
    from ..store import sessions
    from ..store.writer import StoreWriter

    with tempfile.TemporaryDirectory() as tmp:
        writer = StoreWriter(Path(tmp) / "bench.sqlite", commit_interval_s=0.5, queue_frames=n + 1)
        writer.start()
        row = writer.call(lambda c: sessions.open_session(
            c, box_id="bench", bed_label="", source="synthetic", model="bench", model_sha256=None,
            decoder="dark", fps_nominal=30.0, calibration=calibration, software_version=__version__))
        t0 = time.perf_counter()
        for i in range(n):
            writer.offer(row.id, dataclasses.replace(poses[i % len(poses)], frame_index=i), wait=True)
        writer.call(lambda c: None)
        elapsed = time.perf_counter() - t0
        writer.stop()
    return elapsed / n * 1e6


def truth_keypoints(frame, pre: Preprocessor):
    """A rendered frame's crops, the DARK targets of its true joints (2, 17, 96, 72) and both views'
    keypoints decoded from them: what a trained network gives, without one."""
    crops, _ = pre.crops(frame)
    truth = frame.truth
    heatmaps = np.stack([encode(c.image_to_heatmap(t)) for c, t in zip(crops, (truth.left_uv_px, truth.right_uv_px))])
    uv, scores = decode_to_image(heatmaps, crops, method="dark")
    return crops, heatmaps, Keypoints2D(uv_px=uv[0], score=scores[0]), Keypoints2D(uv_px=uv[1], score=scores[1])


@bench.register("engine", default=False)
def bench_engine(args) -> list[dict]:
    repeat = max(10, getattr(args, "repeat", 200) // 4)
    source = SyntheticSource(seed=0, n_frames=2, paced=False, render=True)
    frame = source.frame_at(1, 0)
    rows: list[dict] = []

    pre = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI))
    pre_flip = Preprocessor(CropPolicy(roi_xywh=WARMER_ROI), flip_test=True)
    crops, heatmaps, kl, kr = truth_keypoints(frame, pre)
    mirrored = np.concatenate([heatmaps, flip_back(heatmaps, "dark")])

    def preprocess():
        c, _ = pre.crops(frame)
        return pre.batch(frame, c)

    def preprocess_flip():
        c, _ = pre_flip.crops(frame)
        pre_flip.merge(mirrored)
        return pre_flip.batch(frame, c)

    rules = ValidityRules()
    t_pre = bench.median_us(preprocess, repeat=repeat)
    t_pre_flip = bench.median_us(preprocess_flip, repeat=repeat)
    t_dec = bench.median_us(lambda: decode_to_image(heatmaps, crops, method="dark"), repeat=repeat)
    t_tri = bench.median_us(lambda: to_pose3d(frame, kl, kr, rules), repeat=repeat)
    pose = to_pose3d(frame, kl, kr, rules)
    t_store = store_us_per_frame([pose], frame.calibration, n=max(200, repeat * 4))
    rows += [
        {"name": "preprocess (2 views: crop, warp, normalise)", "median_us": t_pre},
        {"name": "preprocess + merge, flip test (4 views)", "median_us": t_pre_flip},
        {"name": "decode dark (2 views, NumPy)", "median_us": t_dec},
        {"name": "triangulate + validity", "median_us": t_tri},
        {"name": "store ingest (writer thread, amortised)", "median_us": t_store},
    ]
    for flip, t_p in ((False, t_pre), (True, t_pre_flip)):
        total = t_p + t_dec + t_tri + t_store
        rows.append({"name": f"outside inference, total{' (flip test)' if flip else ''}", "median_us": total,
                     "budget_ms": BUDGET_MS, "within_budget": total / 1000.0 <= BUDGET_MS})

    engine_path = getattr(args, "engine", None)
    if engine_path:
        rows += _tensorrt_rows(engine_path, frame, preprocess, preprocess_flip, repeat)
    onnx_path = getattr(args, "onnx", None) or os.environ.get("AGMA_BENCH_ONNX")
    if not onnx_path:
        rows.append({"name": "inference (pass --onnx F.onnx)", "median_us": None, "skipped": True})
        return rows
    from ..pose.engines.onnx_runtime import OnnxEngine

    engine = OnnxEngine(onnx_path)
    batch2 = preprocess()
    batch4 = preprocess_flip()
    inf_repeat = max(5, repeat // 5)
    t_inf = bench.median_us(lambda: engine.infer(batch2), repeat=inf_repeat, warmup=2)
    t_inf_flip = bench.median_us(lambda: engine.infer(batch4), repeat=inf_repeat, warmup=2)
    provider = engine.providers[0]
    rows += [
        {"name": f"inference ONNX Runtime batch 2 ({provider})", "median_us": t_inf,
         "model": Path(onnx_path).name, "share_outside": (t_pre + t_dec + t_tri + t_store) / (t_inf + t_pre + t_dec + t_tri + t_store)},
        {"name": f"inference ONNX Runtime batch 4, flip test ({provider})", "median_us": t_inf_flip,
         "ratio_vs_batch2": t_inf_flip / t_inf},
    ]
    return rows


def _tensorrt_rows(engine_path, frame, preprocess, preprocess_flip, repeat: int) -> list[dict]:
    """`--engine F.engine`: TensorRT batch 2 and 4 with the heatmaps copied back; the pose stage per
    pair as the pipeline runs it (heatmaps decoded on the device, only N x 17 x 3 floats back); and
    the host time outside inference (the stage minus the engine alone). Skipped with the one-line
    reason where TensorRT, pycuda or a GPU is missing, or the engine does not match this machine."""
    from ..errors import AgmaError
    from ..pose.engines.tensorrt_engine import open_engine
    from ..pose.preprocess import HeatmapPoseStage

    name = Path(engine_path).name
    try:
        engine = open_engine(engine_path)  # opened, used and closed in this thread (it owns the context)
    except AgmaError as exc:
        return [{"name": "inference TensorRT", "median_us": None, "skipped": True, "skipped_reason": str(exc)}]
    try:
        inf_repeat = max(10, repeat // 2)
        batch2, batch4 = preprocess(), preprocess_flip()
        t2 = bench.median_us(lambda: engine.infer(batch2), repeat=inf_repeat, warmup=3)
        rows = [{"name": f"inference TensorRT batch 2 ({engine.sidecar.precision}, heatmaps to host)",
                 "median_us": t2, "engine": name, "gpu": engine.sidecar.gpu_name}]
        if engine.max_batch >= 4:
            t4 = bench.median_us(lambda: engine.infer(batch4), repeat=inf_repeat, warmup=3)
            rows.append({"name": "inference TensorRT batch 4, flip test (heatmaps to host)", "median_us": t4,
                         "ratio_vs_batch2": t4 / t2})
        for flip in (False, True) if engine.max_batch >= 4 else (False,):
            stage = HeatmapPoseStage(engine, Preprocessor(CropPolicy(roi_xywh=WARMER_ROI), flip_test=flip))
            stage.warm_up()
            t_stage = bench.median_us(lambda: stage.estimate(frame), repeat=inf_repeat, warmup=3)
            t_inf = t4 if flip else t2
            rows.append({"name": f"pose stage on TensorRT{', flip test' if flip else ''} (device decode)",
                         "median_us": t_stage, "device_path": callable(getattr(engine, "infer_on_device", None)),
                         "host_outside_inference_us": max(t_stage - t_inf, 0.0)})
        return rows
    finally:
        engine.close()
