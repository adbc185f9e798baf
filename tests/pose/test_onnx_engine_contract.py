"""OnnxEngine plugs any contract-honouring ONNX file into the pose stage, and refuses others.

The engine is checked against the HeatmapEngine protocol, records the model file's sha256
(a session stores it), runs a stereo pair as one batch, and refuses at open time a model whose
input/output does not match DESIGN.md's model contract, saying what differs.
"""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from appliance.errors import AgmaError
from appliance.pose.engine import HeatmapEngine
from appliance.pose.export.hrnet_onnx import export_checkpoint
from appliance.pose.engines.onnx_runtime import CPU_PROVIDER, ModelContractError, OnnxEngine


def tiny_model(path, in_hw=(384, 288), batch="N", in_type=TensorProto.FLOAT, joints=17):
    """A one-convolution model: (batch, 3, H, W) -> (batch, joints, H/4, W/4)."""
    h, w = in_hw
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((joints, 3, 4, 4)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[4, 4], strides=[4, 4])]
    inp = "x"
    if in_type != TensorProto.FLOAT:
        nodes.insert(0, helper.make_node("Cast", ["x_in"], ["x"], to=TensorProto.FLOAT))
        inp = "x_in"
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info(inp, in_type, [batch, 3, h, w])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, joints, h // 4, w // 4])],
                              initializer=[weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def w4_onnx(fixtures_dir, tmp_path_factory):
    return export_checkpoint(fixtures_dir / "hrnet_w4_zip.pth", tmp_path_factory.mktemp("e") / "w4.onnx").output


def test_engine_protocol_and_model_info(w4_onnx):
    engine = OnnxEngine(w4_onnx, providers=[CPU_PROVIDER])
    assert isinstance(engine, HeatmapEngine)
    assert engine.info.sha256 == hashlib.sha256(w4_onnx.read_bytes()).hexdigest()
    assert engine.info.name == f"onnx:{w4_onnx}"
    assert engine.providers == [CPU_PROVIDER]


def test_stereo_pair_in_one_batch_matches_reference(w4_onnx, fixtures_dir):
    """Two views in, (2, 17, 96, 72) float32 out; each equals the official output for its view."""
    ref = np.load(fixtures_dir / "hrnet_w4_io.npz")
    engine = OnnxEngine(w4_onnx, providers=[CPU_PROVIDER])
    pair = np.concatenate([ref["input"], ref["input"]])
    out = engine.infer(pair)
    assert out.shape == (2, 17, 96, 72) and out.dtype == np.float32
    scale = np.abs(ref["output"]).max()
    assert np.abs(out - ref["output"]).max() <= 1e-4 * scale


def test_default_providers_prefer_cuda_when_present(w4_onnx, monkeypatch):
    """Without an explicit list the engine asks for CUDA first where ORT has it, else CPU."""
    import onnxruntime

    engine = OnnxEngine(w4_onnx)
    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        assert engine.providers[0] == "CUDAExecutionProvider"
    else:
        assert engine.providers == [CPU_PROVIDER]
    with pytest.raises(AgmaError, match="no NoSuchExecutionProvider"):
        OnnxEngine(w4_onnx, providers=["NoSuchExecutionProvider"])


@pytest.mark.parametrize("kwargs,message", [
    (dict(in_hw=(256, 192)), r"input 'x' has shape \[N,3,256,192\], expected float32 \[N,3,384,288\]"),
    (dict(joints=16), r"output 'y' has shape \[N,16,96,72\], expected float32 \[N,17,96,72\]"),
    (dict(in_type=TensorProto.DOUBLE), r"input 'x_in' is tensor\(double\)"),
])
def test_contract_violations_are_refused(tmp_path, kwargs, message):
    path = tiny_model(tmp_path / "bad.onnx", **kwargs)
    with pytest.raises(ModelContractError, match=r"does not honour the model contract: .*" + message):
        OnnxEngine(path, providers=[CPU_PROVIDER])


def test_any_contract_model_plugs_in(tmp_path):
    """Not only HRNet: any ONNX file with the contract's input/output works."""
    engine = OnnxEngine(tiny_model(tmp_path / "tiny.onnx"), providers=[CPU_PROVIDER])
    assert engine.infer(np.zeros((2, 3, 384, 288), np.float32)).shape == (2, 17, 96, 72)


def test_fixed_batch_model_runs_a_pair_in_slices(tmp_path):
    """A model exported with batch 1 still serves a stereo pair (two runs), same numbers."""
    engine = OnnxEngine(tiny_model(tmp_path / "b1.onnx", batch=1), providers=[CPU_PROVIDER])
    assert engine.fixed_batch == 1
    x = np.random.default_rng(2).standard_normal((2, 3, 384, 288)).astype(np.float32)
    out = engine.infer(x)
    assert out.shape == (2, 17, 96, 72)
    np.testing.assert_array_equal(out[1:], engine.infer(x[1:]))


def test_bad_batches_are_refused(tmp_path):
    engine = OnnxEngine(tiny_model(tmp_path / "tiny.onnx"), providers=[CPU_PROVIDER])
    with pytest.raises(ValueError, match=r"expected \(N, 3, 384, 288\)"):
        engine.infer(np.zeros((2, 384, 288, 3), np.float32))
    # float64 input is converted, not refused
    assert engine.infer(np.zeros((1, 3, 384, 288))).dtype == np.float32


def test_unreadable_files(tmp_path):
    with pytest.raises(AgmaError, match="no such ONNX model file"):
        OnnxEngine(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a protobuf at all")
    with pytest.raises(AgmaError, match="ONNX Runtime cannot load the model"):
        OnnxEngine(tmp_path / "junk.onnx", providers=[CPU_PROVIDER])


def test_missing_onnxruntime_is_one_clear_error(tmp_path, monkeypatch):
    """On a box without onnxruntime the error says which package to install."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` fail
    with pytest.raises(AgmaError, match=r"pip install onnxruntime"):
        OnnxEngine(tmp_path / "any.onnx")
