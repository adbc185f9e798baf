"""The config takes each fact it shares with a stage from the module that owns the fact.

capture.source's choices are the sources open_source knows (appliance.capture), pose.decoder's
the decoders both the NumPy and the CUDA decoder implement (appliance.pose.decoders), and the
stereo.* defaults the validity rules' own (appliance.stereo.reasons). A name added in one
place and forgotten in another used to be accepted by the config and then fail mid-start (or be
refused although a stage knew it).
"""
from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from appliance import capture, config
from appliance.errors import AgmaError, ConfigError
from appliance.pose import decode
from appliance.pose.cuda import build as cuda_build
from appliance.pose.decoders import DECODER_NAMES
from appliance.stereo.reasons import REASONS, ValidityRules


def test_source_choices_are_the_sources_open_source_knows():
    assert config.KEY_BY_PATH["capture.source"].choices == capture.SOURCE_NAMES
    assert config.KEY_BY_PATH["capture.source"].default in capture.SOURCE_NAMES


@pytest.mark.parametrize("name", capture.SOURCE_NAMES)
def test_open_source_dispatches_every_name(name, tmp_path, monkeypatch):
    """Each name reaches its own source: synthetic opens, uvc and replay fail on their own missing inputs, zed
    on the missing ZED SDK (where it is installed, on an absent or unopenable camera)."""
    overrides = {"capture.source": (name, "test"), "capture.device": (str(tmp_path / "no-camera"), "test"),
                 "capture.calibration": (str(tmp_path / "SN1.conf"), "test"),
                 "capture.usb_reset_after_s": (0.0, "test")}  # a box's real ZED is never reset by a test
    monkeypatch.setenv("AGMA_STATE_DIR", str(tmp_path / "state"))
    cfg = config.load(overrides=overrides, environ={})
    try:
        source = capture.open_source(cfg, 0.1, as_fast_as_possible=True)
    except ConfigError as exc:
        assert name != "synthetic"
        assert "unknown source" not in str(exc)
        assert {"uvc": "calibration file not found", "replay": "needs a folder",
                "zed": "get_python_api.py"}[name] in str(exc)
    except AgmaError as exc:  # the zed source where pyzed is installed: no camera here, or one it cannot open
        assert name == "zed" and "ZED" in str(exc)
    else:
        assert name == "synthetic" or (name == "zed" and source.name == "zed")  # a box with its ZED plugged in
        source.close()


def test_decoder_choices_are_the_decoders_both_paths_implement():
    assert config.KEY_BY_PATH["pose.decoder"].choices == DECODER_NAMES
    assert decode.METHODS == cuda_build.METHODS == DECODER_NAMES
    assert set(cuda_build.ENTRY_POINTS) == set(itertools.product(DECODER_NAMES, ("float32", "float16")))
    maps = decode.encode(np.array([[[30.3, 40.6]]]))  # one joint, one view
    for name in DECODER_NAMES:
        coords, _ = decode.decode_heatmaps(maps, method=name)
        assert np.abs(coords[0, 0] - [30.3, 40.6]).max() < 0.5, name


def test_stereo_defaults_are_the_validity_rules_defaults():
    cfg = config.load(environ={})
    assert ValidityRules.from_config(cfg) == ValidityRules()
    for field in dataclasses.fields(ValidityRules):
        assert config.KEY_BY_PATH[f"stereo.{field.name}"].default == field.default


def test_stereo_docs_name_real_reasons():
    """Each stereo.* key's doc ends by naming the reason it sets, in parentheses: one of REASONS."""
    for key in config.KEYS:
        if key.path.startswith("stereo."):
            reason = key.doc.rstrip(".").rsplit("(", 1)[-1].rstrip(")")
            assert reason in REASONS, (key.path, reason)
