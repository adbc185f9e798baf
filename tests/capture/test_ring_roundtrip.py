"""Pairs published by a writer in another process come back byte-identical, with their index and t_ns.

The ring exists to carry the camera's rectified HD720 pairs from the capture child process to the
box without pickling; if a byte, an index or a timestamp changed on the way, every pose and every
export downstream would be wrong without a sign. So a real writer process (a subprocess, as
separate from this one as the capture child is from the box) publishes random HD720
pairs, and this process, attached as the reader, compares each with the same pair regenerated here.
"""
from __future__ import annotations

import numpy as np

from appliance.capture.ring import RingReader
from appliance.frames import RectifiedCalibration
from tests.capture.ring_peer import DT_NS, T0_NS, random_pair, ring_name, wait_published, writer
from tests.helpers import DEADLINE_S, wait_until

WIDTH, HEIGHT, FRAMES = 1280, 720, 6


def test_pairs_cross_processes_byte_identical():
    with ring_name("roundtrip") as name:
        with writer(name, "--slots", "3", "--width", str(WIDTH), "--height", str(HEIGHT),
                    "--frames", str(FRAMES), "--wait-room", "--content", "random") as (proc, lines):
            reader = RingReader.attach(name)
            try:
                assert (reader.slots, reader.width, reader.height) == (3, WIDTH, HEIGHT)
                assert reader.writer_pid == proc.pid
                frames = []
                for _ in range(FRAMES):
                    frames.append(wait_until(reader.next_in_order, "the next pair", timeout=DEADLINE_S, every_s=0.005,
                                             proc=proc))
                assert wait_published(lines)["published"] == FRAMES
                assert reader.next_in_order() is None  # nothing beyond what was published
                counters = (reader.returned, reader.dropped, reader.overruns, reader.torn_retries)
            finally:
                reader.close()
    assert counters == (FRAMES, 0, 0, 0)
    calibration = RectifiedCalibration(width=WIDTH, height=HEIGHT, fx=700.0, fy=700.0, cx=640.0, cy=360.0,
                                       baseline_mm=120.0)
    for i, frame in enumerate(frames):
        # read after the reader unmapped the ring: the arrays are the reader's own copies
        left, right = random_pair(i, HEIGHT, WIDTH)
        assert (frame.seq, frame.index, frame.t_ns) == (i + 1, i, T0_NS + i * DT_NS)
        assert frame.left.shape == frame.right.shape == (HEIGHT, WIDTH, 3) and frame.left.dtype == np.uint8
        assert np.array_equal(frame.left, left) and np.array_equal(frame.right, right)
        assert not np.array_equal(frame.left, frame.right)
        stereo = frame.to_stereo_frame(calibration, received_mono_ns=123)
        assert (stereo.index, stereo.t_ns, stereo.received_mono_ns) == (i, T0_NS + i * DT_NS, 123)
        assert stereo.left is frame.left and stereo.calibration is calibration
