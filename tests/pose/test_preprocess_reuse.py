"""The pose stage's preprocessing allocates nothing per frame: ``Preprocessor.batch(reuse=True)``.

Why: at 30 FPS a new 2.65 MB batch and two warped crops per frame pair is ~90 MB/s of allocation
churn in the inference thread over a night of sessions (issue 17: no per-frame allocation on the hot
path, measured). Reuse must not change a single value, must hand back the same buffer frame after
frame (the engine reads it before the next frame), and must re-size when the flip test changes the
batch. The allocation is measured with tracemalloc (bench.alloc_peak_bytes, not a timing): a new batch
is at least its own size, 2 x 3 x 384 x 288 float32 = 2,654,208 bytes; reused buffers leave only
NumPy's cast buffers, far below one crop (331,776 bytes).
"""
from __future__ import annotations

import numpy as np

from appliance import bench
from appliance.pose.preprocess import CropPolicy, Preprocessor
from tests.pose.test_preprocess_stage import _frame

BATCH_BYTES = 2 * 3 * 384 * 288 * 4
CROP_BYTES = 384 * 288 * 3


def test_reuse_gives_the_same_values_in_the_same_buffer():
    pre = Preprocessor(CropPolicy(roi_xywh=(200, 0, 880, 720)))
    buffers = []
    for index in range(3):
        frame = _frame(index)
        crops, _ = pre.crops(frame)
        fresh = pre.batch(frame, crops)
        reused = pre.batch(frame, crops, reuse=True)
        assert np.array_equal(fresh, reused)
        buffers.append(reused)
    assert buffers[0] is buffers[1] is buffers[2]


def test_the_flip_test_batch_is_its_own_buffer():
    frame = _frame(1)
    pre = Preprocessor(CropPolicy(roi_xywh=(200, 0, 880, 720)), flip_test=True)
    crops, _ = pre.crops(frame)
    reused = pre.batch(frame, crops, reuse=True)
    assert reused.shape == (4, 3, 384, 288)
    assert np.array_equal(reused, pre.batch(frame, crops))


def test_reuse_allocates_no_batch_per_frame():
    frame = _frame(2)
    pre = Preprocessor(CropPolicy(roi_xywh=(200, 0, 880, 720)))
    crops, _ = pre.crops(frame)
    assert bench.alloc_peak_bytes(lambda: pre.batch(frame, crops)) >= BATCH_BYTES
    assert bench.alloc_peak_bytes(lambda: pre.batch(frame, crops, reuse=True)) < CROP_BYTES
