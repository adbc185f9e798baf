"""The exported graph computes what the official PyTorch HRNet computes.

hrnet_w4_io.npz holds the official PoseHighResolutionNet's output (PyTorch, eval mode) for one
input; the ONNX graph built from the same weights (zip and legacy-wrapped checkpoints), with
BatchNorm folded, must reproduce it in ONNX Runtime to 1e-4 of the output's range, and the
dynamic batch axis must give each sample the same result as alone.
"""
from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from appliance.pose.export.hrnet_onnx import export_checkpoint


@pytest.fixture(scope="module")
def reference(fixtures_dir):
    return np.load(fixtures_dir / "hrnet_w4_io.npz")


@pytest.mark.parametrize("name", ["hrnet_w4_zip.pth", "hrnet_w4_legacy_wrapped.pth"])
def test_reproduces_official_output(fixtures_dir, tmp_path, reference, name):
    report = export_checkpoint(fixtures_dir / name, tmp_path / "w4.onnx")
    assert report.spec.widths == (4, 8, 16, 32) and report.spec.num_joints == 17
    session = ort.InferenceSession(str(report.output), providers=["CPUExecutionProvider"])
    x, expected = reference["input"], reference["output"]
    (got,) = session.run(None, {"input": x})
    assert got.shape == expected.shape == (1, 17, 96, 72) and got.dtype == np.float32
    relative = np.abs(got - expected).max() / np.abs(expected).max()
    assert relative <= 1e-4, f"max |error| is {relative:.2e} of the output range"
    # batch of two (the stereo pair): each sample as when run alone
    pair = np.concatenate([x, x[:, :, ::-1, :]], axis=0)
    (both,) = session.run(None, {"input": np.ascontiguousarray(pair)})
    assert both.shape == (2, 17, 96, 72)
    np.testing.assert_allclose(both[0], got[0], rtol=0, atol=1e-5 * np.abs(got).max())
