"""A process that only attaches to the ring leaves it in place and prints nothing when it exits.

Before Python 3.13 (and with 3.13's default track=True), multiprocessing.shared_memory registers a
segment with the resource tracker even in a process that only attaches; when that process exits,
the tracker unlinks the segment under the writer and warns about "leaked shared_memory objects".
The box attaches to the capture child's ring, and tools (a status probe) may too: their exit must
not take the ring away or print a warning. The control at the end shows this test's checks catch
exactly that: the stdlib's default attach, on this Python, warns and unlinks.
"""
from __future__ import annotations

import json
import os
import sys

from appliance.capture.ring import RingReader, segment_path
from tests.capture.ring_peer import ring_name, wait_published, writer
from tests.helpers import run


def test_attaching_process_exits_clean_and_leaves_the_segment():
    with ring_name("attach") as name:
        path = segment_path(name)
        with writer(name, "--frames", "1") as (proc, lines):
            wait_published(lines)
            done = run([sys.executable, "-m", "tests.capture.ring_peer", "attach", name])
            assert done.returncode == 0, done.stderr
            assert done.stderr == "", f"the attaching process printed: {done.stderr}"
            assert json.loads(done.stdout)["writer_pid"] == proc.pid
            assert os.path.exists(path), "the ring was unlinked when a process that only attached exited"
            with RingReader.attach(name) as reader:
                assert reader.next_in_order().seq == 1
            # control: the stdlib's own attach, which this module avoids
            stdlib = run([sys.executable, "-c",
                          f"from multiprocessing import shared_memory; shared_memory.SharedMemory({name!r}).close()"])
            assert stdlib.returncode == 0, stdlib.stderr
            assert "leaked shared_memory" in stdlib.stderr and not os.path.exists(path), (
                "the control no longer shows the resource tracker's unlink: revisit ring.py's reasons")
