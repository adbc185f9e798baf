"""A session records its TensorRT engine's provenance (ONNX sha256, TensorRT, precision, GPU), and its dump carries it.

Why: an engine is built on each box for its GPU and TensorRT, so the engine file's own sha256
(model_sha256) differs from box to box and means nothing to a researcher comparing sessions; the
ONNX model it was built from and how it was built do. The runtime copies pose.info.provenance
(EngineProvenance, filled from the engine's sidecar) into the sessions row as the box opens a
session, and the session's dump, the file researchers get, must hold the same four values. A model
that is not a TensorRT engine (provenance None: ONNX Runtime, the simulated model) leaves them NULL.
The runtime here is the real one (`agma record`'s record_session, the synthetic camera, the real
writer and dump); no TensorRT runs on CI, so the pose stage is the keypoint stand-in wearing the
ModelInfo such an engine gives.
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.pose.engine import EngineProvenance, ModelInfo
from appliance.runtime.record import record_session
from tests.sim_keypoints import SimulatedKeypointModel

ENGINE_COLUMNS = "model, model_sha256, engine_onnx_sha256, engine_tensorrt_version, engine_precision, engine_gpu"
ONNX_SHA256 = hashlib.sha256(b"an HRNet-W32 ONNX model").hexdigest()
ENGINE_SHA256 = hashlib.sha256(b"its engine, built on this box").hexdigest()
PROVENANCE = EngineProvenance(onnx_sha256=ONNX_SHA256, tensorrt_version="10.3.0", precision="fp16", gpu="Orin sm 8.7")


class EngineStandIn(SimulatedKeypointModel):
    """The keypoint stand-in with the ModelInfo a TensorRT engine reports."""

    def __init__(self, info: ModelInfo) -> None:
        super().__init__(1.0, 3)
        self.info = info


def _record(db: Path, model) -> dict:
    cfg = config.load(None, {"store.db": (str(db), "test"), "store.min_free_mb": (0.0, "test")}, environ={})
    src = SyntheticSource(seed=3, n_frames=12, paced=False, render=False)
    return record_session(cfg, 12 / 30.0, True, open_source=lambda: src, build_pose=lambda info: model)


def _row(path: Path | str, uid: str) -> tuple:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"SELECT {ENGINE_COLUMNS} FROM sessions WHERE uid = ?", (uid,)).fetchone()
    finally:
        conn.close()


def test_engine_provenance_is_stored_and_dumped(tmp_path):
    db = tmp_path / "box.sqlite"
    info = ModelInfo(name="tensorrt:/var/lib/agma/w32.engine", sha256=ENGINE_SHA256, provenance=PROVENANCE)
    summary = _record(db, EngineStandIn(info))
    assert summary["end_reason"] == "duration" and summary["frames"] == 12
    expected = ("tensorrt:/var/lib/agma/w32.engine", ENGINE_SHA256, ONNX_SHA256, "10.3.0", "fp16", "Orin sm 8.7")
    assert _row(db, summary["session_id"]) == expected
    assert Path(summary["dump"]).is_file()  # the box's own dump at the session's end
    assert _row(summary["dump"], summary["session_id"]) == expected
    conn = sqlite3.connect(summary["dump"])
    try:
        doc = {c for t, c, _, _ in conn.execute("SELECT * FROM data_dictionary") if t == "sessions"}
    finally:
        conn.close()
    assert {"engine_onnx_sha256", "engine_tensorrt_version", "engine_precision", "engine_gpu"} <= doc


def test_no_provenance_stores_nulls(tmp_path):
    db = tmp_path / "box.sqlite"
    onnx_sha = hashlib.sha256(b"an ONNX model run by ONNX Runtime").hexdigest()
    a = _record(db, SimulatedKeypointModel(1.0, 3))  # the simulated model: ModelInfo("simulated")
    b = _record(db, EngineStandIn(ModelInfo(name="onnx:/var/lib/agma/w32.onnx", sha256=onnx_sha)))
    assert _row(db, a["session_id"]) == ("simulated", None, None, None, None, None)
    assert _row(db, b["session_id"]) == ("onnx:/var/lib/agma/w32.onnx", onnx_sha, None, None, None, None)
    assert _row(b["dump"], b["session_id"]) == ("onnx:/var/lib/agma/w32.onnx", onnx_sha, None, None, None, None)
