"""While a publish is writing a slot's images, a reader sees that slot as being rewritten, never as the old pair.

The race test (test_ring_torn_read.py) catches a writer that marks the slot late only when a read
happens to end inside a publish. This one stops a publish exactly there, deterministically: the
images handed to publish are an ndarray subclass whose ``np.copyto`` hook runs the reader when the
writer is about to copy the right image (the left one of the new pair already in the slot). At that
instant the reader must not return the slot's old pair (its left half is already overwritten), and
the ring must not yet announce the new pair; afterwards the new pair must be whole.
"""
from __future__ import annotations

import numpy as np

from appliance.capture.ring import FrameRing, RingReader
from tests.capture.ring_peer import RIGHT_OFFSET, pattern_index, pattern_pair, ring_name

WIDTH, HEIGHT = 64, 48


class Stopping(np.ndarray):
    """An image that calls ``on_copy()`` when np.copyto is about to copy it."""

    on_copy = None

    def __array_function__(self, func, types, args, kwargs):
        if func is np.copyto and args[1] is self and self.on_copy is not None:
            self.on_copy()
        return super().__array_function__(func, types, args, kwargs)


def test_reader_mid_publish_sees_the_slot_rewritten():
    with ring_name("order") as name:
        ring = FrameRing.create(name, slots=2, width=WIDTH, height=HEIGHT)
        try:
            with RingReader.attach(name) as reader:
                for i in (0, 1):  # seq 1 in slot 0, seq 2 in slot 1
                    ring.publish(i, i, *pattern_pair(i, HEIGHT, WIDTH))
                left, right = (a.copy().view(Stopping) for a in pattern_pair(2, HEIGHT, WIDTH))
                seen = {}

                def mid_publish():  # seq 3 is being written into slot 0, over seq 1; its left image is in
                    seen["write_seq"] = reader.write_seq
                    frame = reader.next_in_order()  # wants seq 1, the pair slot 0 held
                    seen["frame"] = None if frame is None else (
                        frame.seq, frame.index, pattern_index(frame.left), pattern_index(frame.right, RIGHT_OFFSET))
                    seen["counters"] = (reader.overruns, reader.dropped)

                right.on_copy = mid_publish
                assert ring.publish(2, 2, left, right) == 3
                after = reader.next_in_order()
        finally:
            ring.close(unlink=True)
    assert seen["write_seq"] == 2, "the ring announced the new pair before it was written"
    # not seq 1 (its slot is being rewritten): an overrun, and the oldest pair still whole, seq 2
    assert seen["frame"] == (2, 1, {1}, {1}), seen["frame"]
    assert seen["counters"] == (1, 1)
    assert after is not None and (after.seq, after.index) == (3, 2)
    assert pattern_index(after.left) == {2} and pattern_index(after.right, RIGHT_OFFSET) == {2}
