"""The model weights are found however a training script wrapped them.

Checkpoints come as a plain state dict, as {"state_dict": ...} or {"model": ...} with extra
entries (epoch, perf — often a numpy float64 —, optimizer state), with DataParallel's
"module." prefix or without; the exporter needs the same {name: array} from all of them.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from appliance.pose.export.checkpoint import CheckpointError, extract_state_dict, load_checkpoint, read_state_dict
from tests.pose.pth_writer import Call, Global, dumps, write_legacy, write_zip

STATE = {"conv.weight": np.ones((2, 1, 1, 1), np.float32), "bn.running_var": np.full(2, 0.5, np.float32)}


def numpy_float64(value: float) -> Call:
    """numpy.float64 exactly as numpy pickles it with protocol 2."""
    dtype = Call(Global("numpy", "dtype"), ("f8", False, True), state=(3, "<", None, None, None, -1, -1, 0))
    data = Call(Global("_codecs", "encode"), (np.float64(value).tobytes().decode("latin1"), "latin1"))
    return Call(Global("numpy.core.multiarray", "scalar"), (dtype, data))


def test_numpy_scalar_form_is_what_pickle_writes():
    """Sanity check of the helper: the standard unpickler turns it into numpy.float64."""
    assert pickle.loads(dumps(numpy_float64(0.731))) == np.float64(0.731)


@pytest.mark.parametrize("writer", [write_zip, write_legacy], ids=["zip", "legacy"])
@pytest.mark.parametrize("wrap", ["plain", "state_dict", "model", "module_prefix", "training_script"])
def test_wrappers_and_prefixes(tmp_path, writer, wrap):
    """Each wrapping gives back exactly STATE."""
    prefixed = {"module." + k: v for k, v in STATE.items()}
    obj = {
        "plain": STATE,
        "state_dict": {"state_dict": STATE, "epoch": 3},
        "model": {"model": STATE, "epoch": 3, "perf": 0.5},
        "module_prefix": prefixed,
        # lib/core/function.py of the HRNet repo: 'model' is the config name, perf a numpy float
        "training_script": {"epoch": 15, "model": "pose_hrnet", "state_dict": prefixed,
                            "best_state_dict": STATE, "perf": numpy_float64(0.731),
                            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "params": [0, 1]}]}},
    }[wrap]
    got = read_state_dict(writer(tmp_path / f"{wrap}.pth", obj))
    assert list(got) == list(STATE)
    for k in STATE:
        np.testing.assert_array_equal(got[k], STATE[k])


def test_numpy_perf_comes_back_as_float(tmp_path):
    """A numpy float64 'perf' entry is read (as a Python float), not refused."""
    obj = load_checkpoint(write_zip(tmp_path / "p.pth", {"state_dict": STATE, "perf": numpy_float64(0.731)}))
    assert obj["perf"] == pytest.approx(0.731) and isinstance(obj["perf"], float)


def test_no_state_dict_is_named():
    """A checkpoint without any tensor dict says which top-level keys it has."""
    with pytest.raises(CheckpointError, match=r"no state dict found.*'epoch'.*'config'"):
        extract_state_dict({"epoch": 1, "config": "x"})


def test_prefix_collision_is_refused():
    """'module.x' and 'x' together would silently overwrite one another: refused, named."""
    with pytest.raises(CheckpointError, match=r"'conv\.weight'"):
        extract_state_dict({"conv.weight": STATE["conv.weight"], "module.conv.weight": STATE["conv.weight"]})
