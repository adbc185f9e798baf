"""Bad names, missing or foreign segments and wrong images get one clear line, and change nothing.

The ring sits between two processes and /dev/shm: a mistyped name, a capture process not started
yet, a file that is not a ring, an image of the wrong size. Each must be refused with a message
that says what and where (RingError is an AgmaError: one line on the command line), and a refused
publish must not count as a published pair.
"""
from __future__ import annotations

import numpy as np
import pytest

from appliance.capture.ring import FrameRing, RingError, RingReader, segment_path, unlink_stale
from appliance.errors import AgmaError
from tests.capture.ring_peer import ring_name


def test_bad_input_is_refused_clearly():
    assert issubclass(RingError, AgmaError)
    with pytest.raises(RingError, match="must be 'agma-'"):
        RingReader.attach("frames")
    with pytest.raises(RingError, match="must be 'agma-'"):
        segment_path("agma-../etc")
    with ring_name("bad") as name:
        with pytest.raises(RingError, match=f"no shared-memory segment /dev/shm/{name}"):
            RingReader.attach(name)
        with pytest.raises(RingError, match="slots must be an integer >= 2"):
            FrameRing.create(name, slots=1, width=64, height=48)
        with open(segment_path(name), "wb") as f:  # a file that is not a ring
            f.write(b"\0" * 8192)
        with pytest.raises(RingError, match="not a frame ring"):
            RingReader.attach(name)
        assert unlink_stale(name) is True  # no writer pid in it: nobody's, removed
        ring = FrameRing.create(name, slots=2, width=64, height=48)
        try:
            with pytest.raises(ValueError, match=r"right image must be \(48, 64, 3\) uint8, got \(48, 64, 4\) uint8"):
                ring.publish(0, 0, np.zeros((48, 64, 3), np.uint8), np.zeros((48, 64, 4), np.uint8))
            with pytest.raises(ValueError, match=r"left image must be \(48, 64, 3\) uint8, got \(48, 64, 3\) float32"):
                ring.publish(0, 0, np.zeros((48, 64, 3), np.float32), np.zeros((48, 64, 3), np.uint8))
            with RingReader.attach(name) as reader:
                assert ring.seq == 0 and reader.write_seq == 0 and reader.next_in_order() is None
                with pytest.raises(ValueError, match="into must be two writable C-contiguous"):
                    reader.newest(into=(np.zeros((48, 64, 3), np.uint8),))
        finally:
            ring.close(unlink=True)
