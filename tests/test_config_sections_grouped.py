"""The config table keeps each section's keys together.

Why: `agma config show` and docs/config.md print one TOML table per run of keys of a section; a
key added out of its group would declare a section twice, which no TOML reader loads.
"""
from __future__ import annotations

from itertools import groupby

from appliance.config import KEYS


def test_each_section_is_one_run():
    runs = [section for section, _ in groupby(k.path.split(".")[0] for k in KEYS)]
    assert len(runs) == len(set(runs)), runs
