"""A clean close of the writer unlinks its segment; a reader still attached reads what is left.

Shared memory outlives every process that maps it until someone unlinks its name: a box that
stops its camera cleanly must leave nothing in /dev/shm (the team's checks look for agma-*
leftovers), and the box, still attached, must be able to drain the pairs already published and
learn that no more will come. The writer here is a real process told to close through its stdin.
"""
from __future__ import annotations

import os
import subprocess

from appliance.capture.ring import RingReader, segment_path
from tests.capture.ring_peer import ring_name, wait_published, writer
from tests.helpers import DEADLINE_S


def test_clean_close_unlinks_and_the_reader_drains():
    with ring_name("close") as name:
        path = segment_path(name)
        with writer(name, "--slots", "4", "--frames", "3") as (proc, lines):
            assert wait_published(lines)["published"] == 3
            reader = RingReader.attach(name)
            try:
                assert os.path.exists(path)
                assert reader.next_in_order().seq == 1 and not reader.writer_closed
                proc.stdin.write("close\n")
                proc.stdin.flush()
                assert lines.wait_for(lambda line: line.strip() == "closed"), lines.text()
                try:
                    code = proc.wait(timeout=DEADLINE_S)
                except subprocess.TimeoutExpired:
                    raise AssertionError("the writer did not exit after closing") from None
                stderr = proc.stderr.read()
                unlinked = not os.path.exists(path)
                rest = [reader.next_in_order() for _ in range(3)]
                closed = reader.writer_closed
            finally:
                reader.close()
    assert code == 0 and stderr == ""
    assert unlinked, f"{path} left behind by a clean close"
    assert [f.seq for f in rest[:2]] == [2, 3] and rest[2] is None
    assert closed
