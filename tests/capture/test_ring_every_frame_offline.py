"""Offline, a writer that waits for room delivers every pair, in order, to a reader slower than it.

Offline processing (a replay, an export) must lose nothing: the writer calls wait_for_room before
each publish, which holds it while the ring is full of pairs the reader has not taken (the reader
publishes its read sequence in the ring header). A real writer process publishes 300 pairs into 4
slots as fast as it can while this reader pauses now and then, so the writer really has to wait
(it reports how often); every pair must arrive, in order, whole, and nothing be counted lost.
"""
from __future__ import annotations

import time

from appliance.capture.ring import RingReader
from tests.capture.ring_peer import DT_NS, RIGHT_OFFSET, T0_NS, pattern_index, ring_name, wait_published, writer
from tests.helpers import DEADLINE_S

SLOTS, FRAMES = 4, 300


def test_every_pair_in_order_with_backpressure():
    with ring_name("offline") as name:
        with writer(name, "--slots", str(SLOTS), "--frames", str(FRAMES), "--wait-room") as (proc, lines):
            reader = RingReader.attach(name)
            try:
                frames, deadline = [], time.monotonic() + DEADLINE_S
                while len(frames) < FRAMES:
                    assert time.monotonic() < deadline, f"only {len(frames)} of {FRAMES} pairs within {DEADLINE_S:.0f} s"
                    frame = reader.next_in_order()
                    if frame is None:
                        assert proc.poll() is None, "the writer exited"
                        time.sleep(0.001)
                        continue
                    frames.append((frame.seq, frame.index, frame.t_ns, pattern_index(frame.left),
                                   pattern_index(frame.right, RIGHT_OFFSET)))
                    if len(frames) % 25 == 0:
                        time.sleep(0.05)  # a slow moment: the writer fills the ring and must wait
                report = wait_published(lines)
                assert reader.next_in_order() is None
                counters = (reader.returned, reader.dropped, reader.overruns, reader.torn_retries)
            finally:
                reader.close()
    assert [f[0] for f in frames] == list(range(1, FRAMES + 1))
    for seq, index, t_ns, left_indices, right_indices in frames:
        assert (index, t_ns, left_indices, right_indices) == (seq - 1, T0_NS + (seq - 1) * DT_NS, {seq - 1}, {seq - 1})
    assert counters == (FRAMES, 0, 0, 0)
    assert report["published"] == FRAMES and report["waits"] > 0, report
