"""The ring's heartbeat advances while the writer is alive and idle, and only ages once it is killed.

The supervisor tells an idle camera process (alive, nothing to publish) from a hung one (alive, not
turning) and a dead one by the heartbeat in the ring header and the writer's pid. So a writer
process that publishes nothing but beats must show a heartbeat that keeps moving; once SIGKILLed,
the heartbeat must stop where it was, its age grow, and the writer count as not alive.
"""
from __future__ import annotations

import os
import signal

from appliance.capture.ring import RingReader
from tests.capture.ring_peer import ring_name, wait_published, writer
from tests.helpers import wait_until


def test_heartbeat_moves_while_idle_and_ages_after_sigkill():
    with ring_name("heartbeat") as name:
        with writer(name, "--frames", "0") as (proc, lines):
            wait_published(lines)
            with RingReader.attach(name) as reader:
                beats = [reader.heartbeat_ns]
                for _ in range(3):
                    beats.append(wait_until(lambda: reader.heartbeat_ns if reader.heartbeat_ns > beats[-1] else None,
                                            "the idle writer's next heartbeat", proc=proc, every_s=0.005))
                idle = (reader.write_seq, reader.writer_alive(), reader.writer_pid)
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                last_beat, age_at_kill = reader.heartbeat_ns, reader.heartbeat_age_s()
                wait_until(lambda: reader.heartbeat_age_s() > age_at_kill + 0.5, "the heartbeat's age growing",
                           every_s=0.05)
                dead = (reader.heartbeat_ns, reader.writer_alive())
    assert beats == sorted(set(beats)), beats
    assert idle == (0, True, proc.pid)  # alive, beating, nothing published
    assert dead == (last_beat, False)
