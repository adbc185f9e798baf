"""An offline reader lapped by the writer counts the overrun, returns nothing torn, and resumes at the oldest valid pair.

Offline (replay, export), the box wants every pair in order; when the writer laps it anyway (no
backpressure, a stalled reader), the lost pairs must be counted rather than read as garbage from a
slot that now holds a later pair, and reading must go on from the oldest pair still in the ring.
A writer process publishes 10 pairs into 4 slots before the reader takes any: pairs 1-6 are gone,
7-10 are there.
"""
from __future__ import annotations

from appliance.capture.ring import RingReader
from tests.capture.ring_peer import DT_NS, RIGHT_OFFSET, T0_NS, pattern_index, ring_name, wait_published, writer

SLOTS, FRAMES = 4, 10


def test_lapped_reader_counts_the_overrun_and_resumes_at_the_oldest():
    with ring_name("overrun") as name:
        with writer(name, "--slots", str(SLOTS), "--frames", str(FRAMES)) as (proc, lines):
            assert wait_published(lines)["published"] == FRAMES
            reader = RingReader.attach(name)
            try:
                first = reader.next_in_order()
                after_first = (reader.overruns, reader.dropped, reader.torn_retries)
                rest = [reader.next_in_order() for _ in range(SLOTS - 1)]
                assert reader.next_in_order() is None
                final = (reader.returned, reader.dropped, reader.overruns, reader.torn_retries)
            finally:
                reader.close()
    oldest = FRAMES - SLOTS + 1  # seq 7
    assert first is not None and first.seq == oldest
    assert after_first == (1, oldest - 1, 0)  # one overrun, pairs 1-6 dropped, nothing torn
    frames = [first, *rest]
    assert [f.seq for f in frames] == list(range(oldest, FRAMES + 1))
    for f in frames:
        assert (f.index, f.t_ns) == (f.seq - 1, T0_NS + (f.seq - 1) * DT_NS)
        assert pattern_index(f.left) == {f.index} and pattern_index(f.right, RIGHT_OFFSET) == {f.index}
    assert final == (SLOTS, oldest - 1, 1, 0)
