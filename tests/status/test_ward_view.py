"""The monitoring desk's model (status/ward.py WardView): what a nurse at the desk reads of each box.

Fed the messages a desk receives, the view answers one row per box, sorted by box id, with the
box's bed, state, session, counters and camera from its retained status, and two judgements that
must not depend on the boxes' clocks (a box with a wrong clock must not look fresh or dead): the
*age* is the time since the status arrived at the desk, and a box is *stale* after 3 of its own
heartbeats without a status, *offline* when its availability says so. Whatever is published on
the broker, the view never raises: the row says what could not be read.
"""
from __future__ import annotations

import json

import pytest

from appliance.status.ward import DEFAULT_HEARTBEAT_S, MAX_STATUS_BYTES, Row, WardView


def status(box="box-1", **over) -> bytes:
    doc = {"box_id": box, "state": "recording", "health": "ok", "error": None, "session_id": "s-1",
           "bed_label": "NICU 3", "elapsed_s": 125.5, "fps": 29.9, "dropped_frames": 4, "camera": "ok",
           "disk_free_mb": 51234.0, "heartbeat_s": 10.0, "updated_at": "1999-01-01T00:00:00.000Z",  # a wrong clock
           "last_event": {"kind": "session_started", "time": "1999-01-01T00:00:00.000Z", "event_id": 7}}
    doc.update(over)
    return json.dumps(doc).encode()


def test_a_box_with_a_status_is_one_row_with_its_fields():
    v = WardView()
    v.feed("box-1", "availability", b"online", True, 100.0)
    v.feed("box-1", "status", status(), True, 100.0)
    (row,) = v.rows(104.0)
    assert row == Row(box="box-1", bed="NICU 3", state="recording", health="ok", session="s-1", elapsed_s=125.5,
                      fps=29.9, drops=4, camera="ok", disk_free_mb=51234.0, age_s=4.0, availability="online",
                      heartbeat_s=10.0, stale=False, offline=False, error=None,
                      last_event="session_started 1999-01-01T00:00:00.000Z", problem=None,
                      updated_at="1999-01-01T00:00:00.000Z", retained=True)
    assert set(row.to_dict()) >= {"box", "bed", "state", "session", "elapsed_s", "fps", "drops", "camera",
                                  "disk_free_mb", "age_s", "availability", "stale", "offline"}


def test_age_is_measured_by_arrival_not_by_the_boxes_clock():
    v = WardView()
    v.feed("box-1", "status", status(updated_at="2999-01-01T00:00:00.000Z"), False, 50.0)
    assert v.rows(50.0)[0].age_s == 0.0
    assert v.rows(61.5)[0].age_s == 11.5
    v.feed("box-1", "status", status(updated_at="1970-01-01T00:00:00.000Z"), False, 70.0)  # a refresh, whatever it says
    assert v.rows(71.0)[0].age_s == 1.0


def test_stale_after_three_of_the_boxes_own_heartbeats():
    v = WardView()
    v.feed("fast", "status", status("fast", heartbeat_s=2.0), False, 0.0)
    v.feed("slow", "status", status("slow", heartbeat_s=60.0), False, 0.0)
    at_7 = {r.box: r.stale for r in v.rows(7.0)}
    assert at_7 == {"fast": True, "slow": False}
    assert {r.box: r.stale for r in v.rows(6.0)} == {"fast": False, "slow": False}
    assert {r.box: r.stale for r in v.rows(181.0)} == {"fast": True, "slow": True}


def test_a_box_known_only_by_its_availability_is_stale():
    v = WardView()
    v.feed("box-9", "availability", b"online", True, 0.0)
    (row,) = v.rows(0.0)
    assert row.availability == "online" and row.stale and row.age_s is None and row.state is None
    assert row.heartbeat_s == DEFAULT_HEARTBEAT_S


def test_offline_from_the_last_will_keeps_the_last_status():
    v = WardView()
    v.feed("box-1", "availability", b"online", False, 0.0)
    v.feed("box-1", "status", status(), False, 0.0)
    v.feed("box-1", "availability", b"offline", False, 1.0)
    (row,) = v.rows(2.0)
    assert row.offline and row.availability == "offline" and row.state == "recording" and not row.stale
    v.feed("box-1", "availability", b"online", False, 3.0)
    assert not v.rows(3.0)[0].offline


def test_rows_are_sorted_by_box_id_one_per_box():
    v = WardView()
    for box in ("c", "a", "b", "a"):
        v.feed(box, "status", status(box), False, 0.0)
        v.feed(box, "availability", b"online", False, 0.0)
    assert [r.box for r in v.rows(0.0)] == ["a", "b", "c"]


@pytest.mark.parametrize("payload, says", [
    (b"\xff\xfe", "not UTF-8"),
    (b"{not json", "not JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "more than"),
    (b"[" * 20_000 + b"]" * 20_000, "not JSON"),  # deeper than json.loads goes: RecursionError, caught
    (b'"recording"', "not an object"),
    (b"x" * (MAX_STATUS_BYTES + 1), "more than"),
])
def test_an_unreadable_status_is_a_problem_on_the_row(payload, says):
    v = WardView()
    v.feed("box-1", "status", payload, False, 0.0)
    (row,) = v.rows(0.0)
    assert says in row.problem and row.stale and row.state is None


def test_an_unreadable_status_keeps_the_last_good_one_and_does_not_refresh_the_age():
    v = WardView()
    v.feed("box-1", "status", status(), False, 0.0)
    v.feed("box-1", "status", b"garbage", False, 5.0)
    (row,) = v.rows(6.0)
    assert row.state == "recording" and row.age_s == 6.0 and "not JSON" in row.problem
    v.feed("box-1", "status", status(), False, 7.0)
    assert v.rows(7.0)[0].problem is None


def test_fields_of_the_wrong_type_are_left_out_and_named():
    v = WardView()
    v.feed("box-1", "status", status(fps="fast", dropped_frames=1.5, bed_label=3, heartbeat_s=-1, last_event=[1],
                                     elapsed_s=True), False, 0.0)
    (row,) = v.rows(0.0)
    assert row.fps is None and row.drops is None and row.bed is None and row.elapsed_s is None
    assert row.heartbeat_s == DEFAULT_HEARTBEAT_S and row.state == "recording" and row.last_event is None
    for word in ("fps", "dropped_frames", "bed_label", "heartbeat_s", "last_event", "elapsed_s"):
        assert word in row.problem


def test_nan_from_a_careless_publisher_is_missing_not_a_problem():
    v = WardView()
    v.feed("box-1", "status", status().replace(b'"fps": 29.9', b'"fps": NaN'), False, 0.0)
    (row,) = v.rows(0.0)
    assert row.fps is None and row.problem is None


def test_a_status_on_another_boxs_topic_is_named():
    v = WardView()
    v.feed("box-2", "status", status("box-1"), False, 0.0)
    assert "box-1" in v.rows(0.0)[0].problem


def test_odd_availability_is_a_problem_and_changes_nothing():
    v = WardView()
    v.feed("box-1", "availability", b"online", False, 0.0)
    v.feed("box-1", "availability", b"maybe", False, 1.0)
    (row,) = v.rows(1.0)
    assert row.availability == "online" and "maybe" in row.problem


def test_an_empty_retained_message_forgets_and_the_row_goes_with_both():
    v = WardView()
    v.feed("box-1", "availability", b"offline", True, 0.0)
    v.feed("box-1", "status", status(), True, 0.0)
    v.feed("box-1", "status", b"", True, 1.0)
    (row,) = v.rows(1.0)
    assert row.state is None and row.offline
    v.feed("box-1", "availability", b"", True, 2.0)
    assert v.rows(2.0) == []
    v.feed("never-seen", "status", b"", True, 3.0)
    assert v.rows(3.0) == []


def test_other_topics_are_ignored():
    v = WardView()
    for name in ("stats", "events", "cmd", "cmd/result", "nonsense"):
        v.feed("box-1", name, b"{}", False, 0.0)
    assert v.rows(0.0) == []


def test_retained_says_whether_the_last_status_was_the_brokers_copy():
    v = WardView()
    v.feed("box-1", "status", status(), True, 0.0)
    assert v.rows(0.0)[0].retained
    v.feed("box-1", "status", status(), False, 1.0)
    assert not v.rows(1.0)[0].retained
