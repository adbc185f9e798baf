"""A segment left by a SIGKILLed writer stays until the next open, which unlinks it; a live writer's is never taken.

A hung ZED grab is ended by SIGKILL: the capture child gets no chance to unlink its ring. Nothing
else may unlink it behind the box's back either (no resource tracker: the box may still be
reading it), so the segment stays in /dev/shm after the kill; the next writer to open that name
(the restarted child) must find its owner dead and unlink it, and unlink_stale must remove it too.
A segment whose writer is alive is refused (a second writer would corrupt the first's frames).
"""
from __future__ import annotations

import os
import signal

import pytest

from appliance.capture.ring import FrameRing, RingError, RingReader, segment_path, unlink_stale
from tests.capture.ring_peer import ring_name, wait_published, writer


def _kill(proc) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_stale_segment_unlinked_at_next_open_after_sigkill():
    with ring_name("stale") as name:
        path = segment_path(name)
        with writer(name, "--frames", "2") as (first, lines):
            wait_published(lines)
            with pytest.raises(RingError, match=f"in use by the live writer pid {first.pid}"):
                FrameRing.create(name, slots=2, width=64, height=48)
            assert unlink_stale(name) is False and os.path.exists(path)
            _kill(first)
        assert os.path.exists(path), "the killed writer's segment vanished before anyone reopened it"
        with RingReader.attach(name) as reader:  # what the dead writer left is still readable
            assert not reader.writer_alive() and reader.write_seq == 2
        # the next open of the name: a new writer process creates its ring over the dead one's
        with writer(name, "--frames", "1") as (second, lines):
            wait_published(lines)
            with RingReader.attach(name) as reader:
                assert reader.writer_pid == second.pid and reader.writer_alive() and reader.write_seq == 1
            _kill(second)
        assert os.path.exists(path)
        assert unlink_stale(name) is True
        assert not os.path.exists(path), f"{path} still in /dev/shm after unlink_stale"
        assert unlink_stale(name) is False  # nothing left to remove
