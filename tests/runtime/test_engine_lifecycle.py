"""The engine is opened, warmed up and closed in the inference thread, once per box, not per session.

Why: a TensorRT engine owns a CUDA context, which is current in one thread only; opening it takes
seconds and its memory is the box's largest allocation, so it must not be reopened per session,
and it must be freed in the thread that made it when the box closes. The engine here is the real
ONNX Runtime engine on the w4 export, subclassed only to note the thread of each call; the box
runs two sessions and is closed. Expected: one open, warm-up batches before the first session's
frames, every infer and the one close in that same thread, which is the box's inference thread.
"""
from __future__ import annotations

import threading

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.pose.engines.onnx_runtime import OnnxEngine
from appliance.pose.export.hrnet_onnx import export_checkpoint
from appliance.pose.preprocess import CropPolicy, HeatmapPoseStage, Preprocessor
from appliance.runtime import machine as m
from appliance.runtime.box import Box, BoxOptions

from tests.helpers import DEADLINE_S, wait_until


class NotingEngine(OnnxEngine):
    calls: list[tuple[str, str]] = []

    def __init__(self, path) -> None:
        NotingEngine.calls.append(("open", threading.current_thread().name))
        super().__init__(path)

    def infer(self, batch):
        NotingEngine.calls.append(("infer", threading.current_thread().name))
        return super().infer(batch)

    def close(self) -> None:
        NotingEngine.calls.append(("close", threading.current_thread().name))


def test_one_engine_per_box_in_the_inference_thread(fixtures_dir, tmp_path):
    model = export_checkpoint(fixtures_dir / "hrnet_w4_zip.pth", tmp_path / "w4.onnx").output
    cfg = config.load(None, {"store.db": (str(tmp_path / "box.sqlite"), "test"), "store.dump_dir": ("off", "test"),
                             "store.min_free_mb": (0.0, "test"), "store.commit_interval_s": (0.1, "test")},
                      environ={})
    NotingEngine.calls = []
    box = Box(cfg, BoxOptions(live=True), lambda: SyntheticSource(seed=0, render=True),
              lambda info: HeatmapPoseStage(NotingEngine(model), Preprocessor(CropPolicy())))
    box.open()
    loop = threading.Thread(target=box.run, name="test-control-loop")
    try:
        loop.start()
        wait_until(lambda: box.health().ready, "the box ready (engine warmed up)")
        warm = len(NotingEngine.calls)
        assert [c for c, _ in NotingEngine.calls] == ["open"] + ["infer"] * (warm - 1) and warm >= 2
        for _ in range(2):
            before = box.health().frames if box.health().state == "recording" else 0
            assert box.request("start", "socket")["ok"]
            wait_until(lambda: box.health().state == "recording" and box.health().frames > before + 3,
                       "frames recorded")
            assert box.request("stop", "socket")["ok"]
            wait_until(lambda: box.health().state == "idle", "the session closed")
    finally:
        box.post(m.Shutdown("test"))
        loop.join(DEADLINE_S)
        assert box.close() == []
    kinds = [c for c, _ in NotingEngine.calls]
    assert kinds.count("open") == 1 and kinds.count("close") == 1 and kinds[-1] == "close"
    threads = {t for _, t in NotingEngine.calls}
    assert threads == {box.inference.name}, threads
