"""The exported graph is what the box's TensorRT and ONNX Runtime expect.

Input/output names, float32, a dynamic batch axis and fixed 384x288 -> 96x72 (the model
contract); opset 17 and IR version 8 (TensorRT 8.6 of JetPack 6.0 parses nothing newer); no
BatchNorm left; nearest upsampling with PyTorch's index rule; provenance in the metadata.
"""
from __future__ import annotations

import onnx
import pytest

from appliance.pose.export.hrnet_onnx import export_checkpoint


@pytest.fixture(scope="module")
def model(fixtures_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("graph") / "w4.onnx"
    export_checkpoint(fixtures_dir / "hrnet_w4_zip.pth", out)
    return onnx.load(str(out))


def _dims(value_info):
    return [d.dim_param or d.dim_value for d in value_info.type.tensor_type.shape.dim]


def test_contract_shapes_and_dynamic_batch(model):
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "input" and _dims(inp) == ["N", 3, 384, 288]
    assert out.name == "heatmaps" and _dims(out) == ["N", 17, 96, 72]
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_opset_ir_and_ops(model):
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert model.ir_version == 8
    ops = {n.op_type for n in model.graph.node}
    assert ops == {"Conv", "Relu", "Add", "Resize"}
    for node in model.graph.node:
        if node.op_type == "Resize":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            assert attrs == {"mode": b"nearest", "coordinate_transformation_mode": b"asymmetric",
                             "nearest_mode": b"floor"}
    onnx.checker.check_model(model, full_check=True)


def test_provenance_metadata(model):
    props = {p.key: p.value for p in model.metadata_props}
    assert props["agma.architecture"] == "PoseHighResolutionNet"
    assert props["agma.parameters_before_folding"] == "795645"
    assert props["agma.source_checkpoint"] == "hrnet_w4_zip.pth"
    assert len(props["agma.source_sha256"]) == 64
