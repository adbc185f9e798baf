"""Reused image blocks for the frames read out of the capture ring: no 5.5 MB allocation per pair.

Every frame pair read from the ring (capture/ring.py ``RingReader.newest``/``next_in_order``) is
copied out of shared memory into a (2, H, W, 3) uint8 block whose two halves become the frame's
``left`` and ``right``. Without a pool that is a new block per pair (5,529,600 bytes at HD720, 30
or 60 times a second, for a night). :class:`FramePool` hands out blocks again once nothing refers
to them any more.

When is a block free? When no array made from it is alive: the frame was dropped from a full
queue, estimated and let go by the inference thread, or never handed out (a read that found
nothing new). A frame's arrays are views of its block, and each view holds a reference to it, so
CPython's reference count of the block says whether any view is alive; the pool reuses a block
only when the count is its own. No consumer has to give frames back, and a consumer that keeps
a frame (a queue, a replay writer) keeps its block busy: the pool then allocates a new one, up to
``max_blocks`` it keeps, beyond that without keeping it. A reused block is therefore never
overwritten under a frame that is still being read.

The free count is measured, not assumed: at construction the pool asks how many references a
free block has under the very loop that tests it (``_free_refcount``), so a Python whose
reference counting differs in a loop still gets the right answer (tests/capture/test_frame_pool.py
proves both directions: blocks come back once frames are dropped, and a kept frame's pixels never
change).

One owner: the thread that reads the ring (the capture loop's, through runtime/camera_process.py).
"""
from __future__ import annotations

import sys

import numpy as np


class FramePool:
    """(left, right) views of reused (2, height, width, 3) uint8 blocks; see the module's docstring."""

    def __init__(self, height: int, width: int, max_blocks: int = 16) -> None:
        if height < 1 or width < 1 or max_blocks < 1:
            raise ValueError(f"bad frame pool: {width}x{height}, {max_blocks} blocks")
        self.shape = (2, int(height), int(width), 3)
        self.max_blocks = int(max_blocks)
        self._blocks: list[np.ndarray] = []
        #: Blocks allocated so far (kept or not): flat after the warm-up while frames are let go.
        self.allocated = 0
        self._free = self._free_refcount()

    def _free_refcount(self) -> int:
        """The reference count a free block shows in :meth:`_find_free`'s loop (measured on a probe)."""
        blocks = [np.empty((1,), np.uint8)]
        for block in blocks:
            return sys.getrefcount(block)
        raise AssertionError("unreachable")

    def _find_free(self) -> np.ndarray | None:
        for block in self._blocks:
            if sys.getrefcount(block) <= self._free:
                return block
        return None

    def acquire(self) -> tuple[np.ndarray, np.ndarray]:
        """Two writable C-contiguous (height, width, 3) uint8 arrays, the halves of one block that
        no living array refers to (a new block when every kept one is in use)."""
        block = self._find_free()
        if block is None:
            block = np.empty(self.shape, np.uint8)
            self.allocated += 1
            if len(self._blocks) < self.max_blocks:
                self._blocks.append(block)
        return block[0], block[1]

    def in_use(self) -> int:
        """How many kept blocks some living array refers to."""
        busy = 0
        for block in self._blocks:
            if sys.getrefcount(block) > self._free:
                busy += 1
        return busy
