"""Width is read from the checkpoint, and W32/W48 have exactly the released parameter counts.

The released HRNet-W32 has 28,536,113 parameters and W48 63,595,745 (before BatchNorm folding).
The layout is derived twice — by the product (expected_shapes) and by an independent listing in
the test helper — and the helper's listing is first checked against the official w4 fixture.
A full W32 checkpoint in the official layout is then written and exported (graph built, not
run) to check the count end to end.
"""
from __future__ import annotations

import onnx
import pytest

from appliance.pose.export.checkpoint import read_state_dict
from appliance.pose.export.hrnet_onnx import HRNetSpec, expected_shapes, export_checkpoint, parameter_count
from tests.pose.pth_writer import learnable_count, official_hrnet_shapes, random_state_dict, write_legacy, write_zip

RELEASED = {32: 28_536_113, 48: 63_595_745}


def test_independent_layout_matches_the_official_fixture(fixtures_dir):
    """The helper's listing reproduces the keys, order and shapes PyTorch saved for w4."""
    state = read_state_dict(fixtures_dir / "hrnet_w4_zip.pth")
    shapes = official_hrnet_shapes(4)
    assert list(shapes) == list(state)
    assert {k: tuple(v.shape) for k, v in state.items()} == shapes
    assert learnable_count(shapes) == 795_645  # fixtures/README.md


@pytest.mark.parametrize("width", [4, 32, 48])
def test_product_layout_equals_independent_layout(width):
    spec = HRNetSpec(widths=tuple(width * 2 ** b for b in range(4)))
    assert expected_shapes(spec) == official_hrnet_shapes(width)


@pytest.mark.parametrize("width", sorted(RELEASED))
def test_released_parameter_counts(width):
    spec = HRNetSpec(widths=tuple(width * 2 ** b for b in range(4)))
    assert parameter_count(spec) == RELEASED[width]
    assert learnable_count(official_hrnet_shapes(width)) == RELEASED[width]
    assert len(expected_shapes(spec)) == 1754


def test_full_w32_checkpoint_exports_with_the_exact_count(tmp_path):
    """A W32 checkpoint as a DataParallel training script saves it (legacy format, wrapped,
    module. prefixes) exports to a graph with the W32 widths and the exact count."""
    state = random_state_dict(official_hrnet_shapes(32), seed=3)
    ckpt = write_legacy(tmp_path / "w32.pth",
                        {"state_dict": {"module." + k: v for k, v in state.items()}, "epoch": 15})
    report = export_checkpoint(ckpt, tmp_path / "w32.onnx")
    assert report.spec.widths == (32, 64, 128, 256)
    assert report.parameters_before_folding == 28_536_113
    model = onnx.load(str(report.output))
    props = {p.key: p.value for p in model.metadata_props}
    assert props["agma.parameters_before_folding"] == "28536113"
    assert props["agma.widths"] == "32,64,128,256"
    # folded: BatchNorm scale/shift become one bias per convolution, running stats vanish
    folded = sum(t.dims[0] if len(t.dims) == 1 else 0 for t in model.graph.initializer
                 if t.name.endswith(".bias"))
    assert report.parameters_after_folding < report.parameters_before_folding
    assert folded > 0
    assert not any(n.op_type == "BatchNormalization" for n in model.graph.node)


def test_any_width_works(tmp_path):
    """A non-released width (W18-like 18/36/72/144) exports as well."""
    state = random_state_dict(official_hrnet_shapes(18), seed=4)
    report = export_checkpoint(write_zip(tmp_path / "w18.pth", state), tmp_path / "w18.onnx")
    assert report.spec.widths == (18, 36, 72, 144)
    assert report.parameters_before_folding == learnable_count(official_hrnet_shapes(18))
