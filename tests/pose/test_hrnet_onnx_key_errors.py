"""Every checkpoint key is consumed, and a mismatch is an error that names the key.

A checkpoint of another architecture, a half-downloaded or edited one, or a different head
must not produce a silently wrong engine: missing, unexpected and mis-shaped keys are all
listed by name in one CheckpointError.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.pose.export.checkpoint import CheckpointError
from appliance.pose.export.hrnet_onnx import build_hrnet_onnx, export_checkpoint
from tests.pose.pth_writer import official_hrnet_shapes, random_state_dict, write_zip


@pytest.fixture(scope="module")
def w4():
    return random_state_dict(official_hrnet_shapes(4), seed=5)


def test_missing_key_is_named(w4):
    state = dict(w4)
    del state["stage3.2.fuse_layers.2.0.1.1.running_var"]
    with pytest.raises(CheckpointError, match=r"1 missing key\(s\): 'stage3\.2\.fuse_layers\.2\.0\.1\.1\.running_var'"):
        build_hrnet_onnx(state)


def test_unexpected_key_is_named(w4):
    state = dict(w4, **{"head.extra.weight": np.zeros((3, 3), np.float32)})
    with pytest.raises(CheckpointError, match=r"1 unexpected key\(s\): 'head\.extra\.weight'"):
        build_hrnet_onnx(state)


def test_misshaped_key_is_named(w4):
    state = dict(w4)
    state["stage4.1.branches.2.3.conv2.weight"] = np.zeros((16, 16, 1, 1), np.float32)
    with pytest.raises(CheckpointError, match=r"mis-shaped key\(s\): 'stage4\.1\.branches\.2\.3\.conv2\.weight' "
                                              r"has shape \(16, 16, 1, 1\), expected \(16, 16, 3, 3\)"):
        build_hrnet_onnx(state)


def test_all_problems_in_one_message(w4):
    state = dict(w4)
    del state["layer1.0.downsample.0.weight"]
    state["final_layer.bias"] = np.zeros(5, np.float32)
    state["stray"] = np.zeros(1, np.float32)
    with pytest.raises(CheckpointError) as err:
        build_hrnet_onnx(state)
    msg = str(err.value)
    assert "'layer1.0.downsample.0.weight'" in msg and "'stray'" in msg and "'final_layer.bias'" in msg


def test_integer_weights_are_refused(w4):
    state = dict(w4, **{"conv1.weight": w4["conv1.weight"].astype(np.int32)})
    with pytest.raises(CheckpointError, match=r"'conv1\.weight' has dtype int32"):
        build_hrnet_onnx(state)


def test_missing_num_batches_tracked_is_tolerated(w4):
    """Checkpoints saved before PyTorch 0.4.1 have no num_batches_tracked; PyTorch loads them."""
    state = {k: v for k, v in w4.items() if not k.endswith("num_batches_tracked")}
    model, spec = build_hrnet_onnx(state)
    assert spec.widths == (4, 8, 16, 32)


def test_not_an_hrnet(tmp_path):
    """A ResNet-like state dict is refused as not the official layout, naming a key it lacks."""
    path = write_zip(tmp_path / "resnet.pth", {"conv1.weight": np.zeros((64, 3, 7, 7), np.float32),
                                               "fc.weight": np.zeros((10, 512), np.float32)})
    with pytest.raises(CheckpointError, match=r"missing key 'stage2\.0\.branches\.0\.0\.conv1\.weight'.*official layout"):
        export_checkpoint(path, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()
