"""sim.faults: KIND@START+DURATION parses, round-trips, and a wrong one is a config error (exit 78).

Why: the faults drive the camera-process tests and demonstrations; a typo must not silently
inject nothing, and hang/crash must act once (in the first process whose clock reaches their
start), or the replacement process would hang again for ever.
"""
from __future__ import annotations

import pytest

from appliance.capture.faults import Fault, engine_hang_start_s, parse_fault, parse_faults
from tests.helpers import agma


def test_parse_and_round_trip():
    faults = parse_faults(["stop@10+4", "hang@20+0", "crash@32.5+0", "absent@0+30"])
    assert faults == (Fault("stop", 10, 4), Fault("hang", 20, 0), Fault("crash", 32.5, 0), Fault("absent", 0, 30))
    assert [parse_fault(f.text()) for f in faults] == list(faults)


def test_engine_hang():
    """engine_hang is not the camera's: the runtime hands its start to the simulated model (the earliest one)."""
    assert parse_fault("engine_hang@4+0") == Fault("engine_hang", 4, 0)
    assert parse_fault("engine_hang@4+0").active(4) and not parse_fault("engine_hang@4+0").active(3.99)
    assert engine_hang_start_s(["stop@1+2", "engine_hang@9+0", "engine_hang@4.5+0"]) == 4.5
    assert engine_hang_start_s(["hang@4+0"]) is None


def test_windows():
    stop, hang = parse_fault("stop@10+4"), parse_fault("hang@20+0")
    assert not stop.active(9.99) and stop.active(10) and stop.active(13.9) and not stop.active(14)
    assert hang.active(25) and hang.active(20) and not hang.active(19.99)
    assert not hang.active(25, fired={"hang@20+0"})  # once fired, the replacement process is spared


@pytest.mark.parametrize("bad", ["stop@10", "melt@1+1", "stop@-1+2", "stop@a+1"])
def test_bad_fault_is_refused(bad):
    with pytest.raises(ValueError):
        parse_fault(bad)


def test_unknown_kind_is_a_config_error(tmp_path):
    p = agma("config", "check", env={"AGMA_SIM__FAULTS": '["melt@1+1"]'})
    assert p.returncode == 78 and "sim.faults" in p.stderr and "melt" in p.stderr, p.stderr
