"""The status document's keys are the documented ones, and the snapshot maps onto them.

Why: `agma status --json` is a contract for monitoring scripts (and MQTT's status later): the
keys in docs/usage.md and in runtime/health.py STATUS_KEYS must not drift, and NaN must become
null (JSON has no NaN).
"""
from __future__ import annotations

import re

from appliance.runtime.health import STATUS_KEYS, Health, status_document
from tests.helpers import REPO


def test_documented_keys_are_the_status_keys():
    doc = (REPO / "docs" / "usage.md").read_text()
    para = doc[doc.index("`agma status --json` answers one object"):]
    para = para[:para.index("\n\n")]
    named = re.findall(r"`([a-z_]+)`", para)
    assert [k for k in named if k in STATUS_KEYS] == list(STATUS_KEYS)
    assert set(STATUS_KEYS) <= set(named)


def test_snapshot_to_document():
    h = Health(state="recording", health="degraded", error="camera lost", session_id="b-1", bed_label="Bed 3",
               frames=42, fps=29.97, dropped_frames=1, elapsed_s=1.4, camera="lost", engine="ready", store="ok",
               disk_free_mb=float("nan"), source_opens=1, engine_loads=1, ready=False,
               stalled=("inference",), heartbeat_age_s={"inference": 3.5}, queue_depths={"frames": 4})
    d = status_document(h)
    assert list(d) == list(STATUS_KEYS)
    assert d["disk_free_mb"] is None and d["stalled"] == ["inference"] and d["frames"] == 42
    assert d["heartbeat_age_s"] == {"inference": 3.5}
