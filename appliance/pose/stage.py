"""The pose stage's shell: one StereoFrame in, both views' Keypoints2D out.

Implementations: the simulated model (appliance.pose.sim.model; needs ground truth) and, for a
network, preprocessing -> HeatmapEngine -> decode_to_image. ``build`` picks one from the config.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..errors import ConfigError
from ..frames import Keypoints2D, StereoFrame
from .engine import ModelInfo


@runtime_checkable
class PoseStage(Protocol):
    info: ModelInfo
    #: Decoder name stored in sessions.decoder (None where no heatmap is decoded).
    decoder: str | None

    def estimate(self, frame: StereoFrame) -> tuple[Keypoints2D, Keypoints2D]:
        ...


def build(cfg, source, hang_at_s: float | None = None) -> PoseStage:
    """The pose stage named by ``pose.model``; ConfigError when it cannot run with this source.

    hang_at_s: the simulated model blocks for ever in inference from this second of the source's
    clock on (sim.faults ``engine_hang``, parsed by the runtime); the origin is the source's
    ``t_origin_ns`` when it has one."""
    spec = cfg["pose.model"]
    if spec == "simulated":
        if not source.has_truth:
            raise ConfigError(cfg.origins["pose.model"], "pose.model",
                              f"'simulated' needs a source with ground truth; '{source.name}' has none")
        from .sim.noise import NoiseParams
        from .preprocess import roi_crop
        from .sim.model import SimulatedHeatmapModel

        crop = roi_crop(None, cfg["pose.roi_px"], cfg["pose.convention"])
        return SimulatedHeatmapModel(crop, crop, NoiseParams.from_config(cfg), seed=cfg["sim.seed"],
                                     decoder=cfg["pose.decoder"], hang_at_s=hang_at_s,
                                     t_origin_ns=getattr(source, "t_origin_ns", None))
    kind, _, path = spec.partition(":")
    if kind == "onnx":
        from .engines.onnx_runtime import OnnxEngine
        from .preprocess import CropPolicy, HeatmapPoseStage, Preprocessor

        policy = CropPolicy(roi_xywh=tuple(cfg["pose.roi_px"]), track=cfg["pose.track"], convention=cfg["pose.convention"])
        return HeatmapPoseStage(OnnxEngine(path), Preprocessor(policy, flip_test=cfg["pose.flip_test"]),
                                decoder=cfg["pose.decoder"])
    if kind in ("tensorrt", "trt"):  # trt: is an alias
        from .preprocess import CropPolicy, HeatmapPoseStage, Preprocessor
        from .engines.tensorrt_engine import open_engine

        engine = open_engine(path)  # one line: no such engine file, no TensorRT, sidecar missing or mismatching
        if cfg["pose.flip_test"] and engine.max_batch < 4:
            engine.close()
            raise ConfigError(cfg.origins["pose.flip_test"], "pose.flip_test",
                              f"{path} was built for batch {engine.max_batch}; the flip test needs 4 "
                              "(agma engine build ... --batch 4)")
        policy = CropPolicy(roi_xywh=tuple(cfg["pose.roi_px"]), track=cfg["pose.track"], convention=cfg["pose.convention"])
        return HeatmapPoseStage(engine, Preprocessor(policy, flip_test=cfg["pose.flip_test"]),
                                decoder=cfg["pose.decoder"])
    raise ConfigError(cfg.origins["pose.model"], "pose.model", f"the {kind} engine is not available in this build ({path})")
