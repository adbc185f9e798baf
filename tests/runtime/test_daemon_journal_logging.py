"""Under systemd with the journal reading its output, the daemon logs with the journal's priorities.

Why: journald files each line of a service's output at the priority its ``<N>`` prefix names
(sd-daemon(3)); without it every line, errors included, lands at the unit's default priority and
`journalctl -p err` finds nothing. systemd says which stream is the journal in $JOURNAL_STREAM
(``device:inode``, set when stdout or stderr is connected to it); a daemon whose output goes
elsewhere (a terminal, a pipe, a container) keeps its timestamped lines on stderr. Here the
daemon's stdout and stderr are real pipes, and $JOURNAL_STREAM names one of them or a file that
is neither; systemd-python's JournalHandler is not installed in the test environment, so the
hand path, the prefixed lines, is what runs.
"""
from __future__ import annotations

import os

import pytest

from tests.helpers import Lines, start_agma, wait_until

from .daemon_env import daemon_env, status, stop_daemon


@pytest.mark.parametrize("journal", ["stderr", "stdout", "elsewhere"])
def test_journal_stream(tmp_path, journal):
    pipes = {"stdout": os.pipe(), "stderr": os.pipe()}
    (tmp_path / "elsewhere").write_text("")
    st = os.fstat(pipes[journal][1]) if journal in pipes else os.stat(tmp_path / "elsewhere")
    env = daemon_env(tmp_path, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    readers = {name: open(r, encoding="utf-8") for name, (r, _w) in pipes.items()}
    writers = [w for _r, w in pipes.values()]
    try:
        with start_agma("daemon", env=env, stdout=pipes["stdout"][1], stderr=pipes["stderr"][1]) as proc:
            while writers:  # the daemon has its copies: EOF comes when it ends
                os.close(writers.pop())
            logs = {name: Lines(f) for name, f in readers.items()}
            wait_until(lambda: status(env).get("ok"), "the daemon answering", proc=proc)
            where = "stdout" if journal == "stdout" else "stderr"
            running = logs[where].wait_for(lambda line: "agma daemon: running" in line and line)
            assert stop_daemon(proc) == 0, logs["stderr"].text()
        assert running, {name: log.join() for name, log in logs.items()}
        if journal == "elsewhere":
            assert not running.startswith("<") and " WARNING appliance.commands.daemon: " in running, running
        else:  # WARNING is syslog priority 4; no timestamp of ours (the journal keeps its own)
            assert running.startswith("<4>appliance.commands.daemon: agma daemon: running"), running
            other = logs["stderr" if journal == "stdout" else "stdout"].join()
            assert "agma daemon: running" not in other, other
    finally:
        for w in writers:
            os.close(w)
        for f in readers.values():
            f.close()
