"""`agma engine export` and `agma engine info` as IT uses them.

export turns a checkpoint into an ONNX file and reports it; info describes any ONNX file
(names, shapes, opset, parameter count, sha256, whether it honours the model contract), with
--json printing one JSON line last on stdout; a bad checkpoint is one clear line and exit 1.
"""
from __future__ import annotations

import hashlib
import json

import pytest

from appliance import cli
from tests.pose.test_onnx_engine_contract import tiny_model
from tests.pose.pth_writer import official_hrnet_shapes, random_state_dict, write_zip


@pytest.fixture(autouse=True)
def engine_registered(monkeypatch):
    """Run through the real CLI entry point, with the engine subcommand registered."""
    if "engine" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "engine"))


def _last_json(text: str) -> dict:
    return json.loads(text.strip().splitlines()[-1])


def test_export_then_info(fixtures_dir, tmp_path, capsys):
    out = tmp_path / "w4.onnx"
    assert cli.main(["engine", "export", "--checkpoint", str(fixtures_dir / "hrnet_w4_legacy_wrapped.pth"),
                     "-o", str(out), "--json"]) == 0
    exported = _last_json(capsys.readouterr().out)
    assert exported["widths"] == [4, 8, 16, 32]
    assert exported["parameters_before_folding"] == 795_645
    assert exported["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()

    assert cli.main(["engine", "info", str(out), "--json"]) == 0
    info = _last_json(capsys.readouterr().out)
    assert info["inputs"] == [{"name": "input", "dtype": "float", "shape": ["N", 3, 384, 288]}]
    assert info["outputs"] == [{"name": "heatmaps", "dtype": "float", "shape": ["N", 17, 96, 72]}]
    assert info["opset"] == {"ai.onnx": 17}
    assert info["parameters_before_folding"] == 795_645
    assert info["parameters"] == exported["parameters_after_folding"]
    assert info["sha256"] == exported["sha256"]
    assert info["honours_model_contract"] is True

    assert cli.main(["engine", "info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "input: float [N,3,384,288]" in text and "795,645 before BatchNorm folding" in text


def test_info_of_a_foreign_model(tmp_path, capsys):
    """A model that breaks the contract is described, with the reason, not refused."""
    path = tiny_model(tmp_path / "small.onnx", in_hw=(256, 192))
    assert cli.main(["engine", "info", str(path), "--json"]) == 0
    info = _last_json(capsys.readouterr().out)
    assert info["honours_model_contract"] is False
    assert "[N,3,256,192]" in info["contract_problem"]
    assert info["parameters"] == 17 * 3 * 4 * 4 and info["parameters_before_folding"] is None


def test_bad_checkpoint_is_one_line_and_exit_1(tmp_path, capsys):
    state = random_state_dict(official_hrnet_shapes(4), seed=9)
    del state["stage2.0.fuse_layers.1.0.0.1.bias"]
    ckpt = write_zip(tmp_path / "broken.pth", state)
    assert cli.main(["engine", "export", "--checkpoint", str(ckpt), "-o", str(tmp_path / "x.onnx")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'stage2.0.fuse_layers.1.0.0.1.bias'" in err[0] and err[0].startswith("agma engine:")
    assert not (tmp_path / "x.onnx").exists()


def test_info_of_a_non_onnx_file(tmp_path, capsys):
    (tmp_path / "x.onnx").write_bytes(b"\x00\x01garbage")
    assert cli.main(["engine", "info", str(tmp_path / "x.onnx")]) == 1
    assert "not an ONNX model" in capsys.readouterr().err


def test_missing_action_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["engine"])
    assert exc.value.code == 2
