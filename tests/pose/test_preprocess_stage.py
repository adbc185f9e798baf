"""Preprocessing -> engine -> decoding recovers where the joints are, tracked frame to frame.

An oracle engine returns, for each view of the batch, the DARK target heatmaps of the true
joints seen through that view's crop (and, for mirrored views, exactly what a mirror-equivariant
network would return). The stage must then report the true image coordinates: this checks the
whole geometry chain (crop, batch order, flip-back, decode, heatmap->image) in one place. The
real ONNX engine runs the same path on the w4 fixture model.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.frames import RectifiedCalibration, StereoFrame
from appliance.pose.crop import flip_back
from appliance.pose.decode import encode
from appliance.pose.engine import HeatmapEngine, ModelInfo
from appliance.pose.preprocess import CropPolicy, HeatmapPoseStage, Preprocessor

CAL = RectifiedCalibration(width=1280, height=720, fx=530.0, fy=530.0, cx=640.0, cy=360.0, baseline_mm=120.0)


def _frame(index=0):
    rng = np.random.default_rng(index)
    return StereoFrame(index=index, t_ns=index, left=rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8),
                       right=rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8), calibration=CAL)


class OracleEngine:
    """Heatmaps of the true joints in each view's current crop."""

    def __init__(self, truth_left, truth_right):
        self.truth = (truth_left, truth_right)
        self.stage = None
        self.info = ModelInfo(name="oracle")
        self.batches = []

    def infer(self, batch):
        self.batches.append(batch.shape)
        crops = self.stage.last_crops
        maps = np.stack([encode(c.image_to_heatmap(t)) for c, t in zip(crops, self.truth)])
        if batch.shape[0] == 4:
            maps = np.concatenate([maps, flip_back(maps, "dark")])  # the mirror of each view
        return maps


def _truth(seed):
    rng = np.random.default_rng(seed)
    left = np.stack([rng.uniform(500, 780, 17), rng.uniform(220, 500, 17)], axis=1)
    return left, left - [75.0, 0.0]  # same rows, shifted by the disparity


@pytest.mark.parametrize("flip_test", [False, True])
def test_stage_recovers_true_joints_and_tracks(flip_test):
    left, right = _truth(3)
    engine = OracleEngine(left, right)
    stage = HeatmapPoseStage(engine, Preprocessor(CropPolicy(roi_xywh=(200, 0, 880, 720)), flip_test=flip_test))
    engine.stage = stage
    assert isinstance(engine, HeatmapEngine) and stage.info.name == "oracle"
    for index in range(3):
        kl, kr = stage.estimate(_frame(index))
        assert stage.last_crop_sources == (["roi", "roi"] if index == 0 else ["tracked", "tracked"])
        np.testing.assert_allclose(kl.uv_px, left, atol=0.05)
        np.testing.assert_allclose(kr.uv_px, right, atol=0.05)
        assert np.all(kl.score > 0.9)
    assert engine.batches == [(4 if flip_test else 2, 3, 384, 288)] * 3


def test_real_onnx_engine_runs_the_path(fixtures_dir, tmp_path):
    """The exported w4 HRNet through OnnxEngine: shapes, scores and the model's sha256."""
    from appliance.pose.export.hrnet_onnx import export_checkpoint
    from appliance.pose.engines.onnx_runtime import OnnxEngine

    report = export_checkpoint(fixtures_dir / "hrnet_w4_zip.pth", tmp_path / "w4.onnx")
    engine = OnnxEngine(report.output, providers=["CPUExecutionProvider"])
    stage = HeatmapPoseStage(engine, Preprocessor(flip_test=True), decoder="standard")
    kl, kr = stage.estimate(_frame(0))
    assert kl.uv_px.shape == (17, 2) and kr.score.shape == (17,)
    assert stage.info.sha256 == report.onnx_sha256
