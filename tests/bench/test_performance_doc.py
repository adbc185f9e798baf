"""docs/performance.md, the frame budget on paper, stays true to the bench and to its own sources.

Why: the doc's per-stage table is read by whoever sizes a box; a stage added to `agma bench` but
missing from it, or a CPU factor that is not the ratio of the published figures the doc cites,
would make the estimate silently wrong. Checked: every row of the stage table is named in the doc;
each module's factor is max(7-zip ratio, memcpy ratio) of the numbers its own table states; the
engine's lower bound is 2 x 16.0 GMAC x 2 FLOP per pair (x 2 with the flip test) over the stated peak.
"""
from __future__ import annotations

import re
from pathlib import Path

from appliance.bench.stages import STAGES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "performance.md").read_text(encoding="utf-8")


def _num(text: str) -> float:
    return float(text.replace(",", ""))


def test_every_stage_row_is_in_the_doc():
    missing = [name for name in STAGES if f"`{name}`" not in DOC]
    assert not missing, f"docs/performance.md does not name {missing}"


def test_cpu_factors_are_the_ratios_of_the_stated_figures():
    table = re.findall(r"^\| (this machine|Jetson AGX Orin|Orin NX|Jetson Orin Nano)[^|]*\| ([\d,]+)[^|]*\| ([\d,]+)[^|]*\| \**([\d.]+)\**",
                       DOC, re.MULTILINE)
    rows = {name: (_num(z), _num(m), float(f)) for name, z, m, f in table}
    assert set(rows) == {"this machine", "Jetson AGX Orin", "Orin NX", "Jetson Orin Nano"}
    here_z, here_m, _ = rows.pop("this machine")
    for name, (z, m, factor) in rows.items():
        assert abs(max(here_z / z, here_m / m) - factor) < 0.006, name


def test_engine_lower_bound_is_the_arithmetic():
    peaks = {"AGX Orin 64GB": 42.5, "Orin NX 16GB": 14.7, "Orin Nano 8GB": 10.0}
    for flip, line in ((False, "2 views"), (True, "4 images (flip test)")):
        row = next(r for r in DOC.splitlines() if r.startswith(f"| `engine_tensorrt`, {line}"))
        got = [float(x) for x in re.findall(r"≥ ([\d.]+)", row)]
        gflop = 2 * 16.0 * 2 * (2 if flip else 1)
        assert got == [round(gflop / peak, 2) for peak in peaks.values()], row
