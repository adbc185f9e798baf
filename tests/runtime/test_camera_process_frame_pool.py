"""Frames read from a real capture process come in pooled blocks: allocations flat, kept frames intact.

Why: runtime/camera_process.py copies each pair out of the ring into a FramePool block
(capture/frame_pool.py) instead of a new 5.5 MB block per HD720 pair. Through the real child
process with the synthetic source, offline (every frame in order): frames that are let go give
their blocks back -- 200 frames, a handful of blocks --, and frames that are held (a queue of 4,
as pipeline.queue_frames) are never overwritten by later reads: each held frame's images still
equal the synthetic scene rendered for its index, compared after 8 more frames have been read.
"""
from __future__ import annotations

import collections

import numpy as np

from appliance import config
from appliance.capture.synthetic import SyntheticSource
from appliance.runtime.camera_process import ProcessSource


def _cfg(tmp_path):
    return config.load(None, {"store.db": (str(tmp_path / "box.sqlite"), "test"),
                              "capture.source": ("synthetic", "test"), "capture.process": (True, "test"),
                              "store.dump_dir": ("off", "test")}, environ={})


def test_blocks_are_reused_and_held_frames_keep_their_pixels(tmp_path):
    cfg = _cfg(tmp_path)
    src = ProcessSource(cfg, live=False, t_origin_ns=0)
    try:
        rendered = SyntheticSource(seed=cfg["sim.seed"], n_frames=10_000, paced=False, render=True)
        held: collections.deque = collections.deque(maxlen=4)
        checked = 0
        for n, frame in enumerate(src.frames()):
            held.append(frame)
            if n >= 8 and n % 20 == 0:
                old = held[0]
                want = rendered.frame_at(old.index, old.t_ns)
                assert np.array_equal(old.left, want.left) and np.array_equal(old.right, want.right), old.index
                checked += 1
            if n == 199:
                break
        assert checked >= 9
        assert src.pool.allocated <= 4 + 2, src.pool.allocated
    finally:
        src.close()
