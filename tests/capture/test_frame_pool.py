"""The capture reader's frame pool (capture/frame_pool.py): blocks come back, kept frames stay intact.

Why: every pair read from the capture ring used to be copied into a new 5.5 MB block (HD720), 30
to 60 times a second for a night (issue 17: no per-frame allocation on the hot path). The pool
reuses a block only when no array made from it is alive, judged by CPython's reference count. Both
directions must hold: frames that are let go give their blocks back (allocations stay flat), and a
frame that is still held -- in the frames queue, in inference, in a consumer's hands -- is never
overwritten by a later read. The second is checked through a real ring with a real writer process:
each kept frame must still carry the pixels published for it (tests/capture/ring_peer.py patterns).
"""
from __future__ import annotations

import collections
import time

import numpy as np

from appliance.capture.frame_pool import FramePool
from appliance.capture.ring import RingReader
from tests.capture.ring_peer import RIGHT_OFFSET, pattern_index, ring_name, wait_published, writer
from tests.helpers import DEADLINE_S


def test_a_block_let_go_comes_back():
    pool = FramePool(4, 6)
    first = pool.acquire()
    block = id(first[0].base)  # an id, not a reference: holding the block would keep it busy
    assert first[0].shape == first[1].shape == (4, 6, 3) and first[0].dtype == np.uint8
    assert first[0].flags.c_contiguous and first[0].flags.writeable
    assert first[1].base is first[0].base
    del first
    for _ in range(100):
        left, right = pool.acquire()
        assert id(left.base) == block
        del left, right
    assert pool.allocated == 1 and pool.in_use() == 0


def test_held_frames_keep_their_blocks():
    pool = FramePool(4, 6, max_blocks=3)
    held = []
    for value in range(5):
        left, right = pool.acquire()
        left[:] = value
        right[:] = 100 + value
        held.append((left, right))
    assert pool.allocated == 5 and pool.in_use() == 3  # three kept, two beyond max_blocks not kept
    bases = {id(pair[0].base) for pair in held}
    assert len(bases) == 5
    for _ in range(10):  # later reads never land in a held block: each is a new, unkept one
        left, right = pool.acquire()
        assert id(left.base) not in bases
        left[:] = 255
        del left, right
    assert pool.allocated == 15
    for value, (left, right) in enumerate(held):
        assert (left == value).all() and (right == 100 + value).all()
    kept_ids = {id(pair[0].base) for pair in held[:3]}
    held.clear()
    assert pool.in_use() == 0
    left, _ = pool.acquire()
    assert id(left.base) in kept_ids and pool.allocated == 15  # let go: a kept block again


def test_through_a_real_ring_kept_frames_are_intact():
    """A writer process publishes 300 pairs; the reader keeps the last 4 (the frames queue's bound)
    and lets older ones go: each kept frame still carries its own pattern, and the pool allocated
    at most the held frames plus the one being read plus one."""
    frames, keep = 300, 4
    with ring_name("pool") as name:
        with writer(name, "--slots", "4", "--frames", str(frames), "--wait-room") as (proc, lines):
            reader = RingReader.attach(name)
            pool = FramePool(reader.height, reader.width, max_blocks=16)
            kept: collections.deque = collections.deque(maxlen=keep)
            try:
                seen, into, deadline = 0, None, time.monotonic() + DEADLINE_S
                while seen < frames:
                    assert time.monotonic() < deadline, f"only {seen} of {frames} pairs"
                    if into is None:
                        into = pool.acquire()
                    frame = reader.next_in_order(into)
                    if frame is None:
                        assert proc.poll() is None, "the writer exited"
                        time.sleep(0.001)
                        continue
                    into = None
                    seen += 1
                    kept.append(frame)
                    for f in kept:
                        assert pattern_index(f.left) == {f.seq - 1}, f"frame {f.seq} was overwritten"
                        assert pattern_index(f.right, RIGHT_OFFSET) == {f.seq - 1}
                wait_published(lines)
            finally:
                reader.close()
    assert [f.seq for f in kept] == list(range(frames - keep + 1, frames + 1))
    assert pool.allocated <= keep + 2, pool.allocated
