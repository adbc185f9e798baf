"""The event kinds: one vocabulary for the ``events`` table, the researchers who query it and the
monitoring desk that receives the same rows over MQTT (``<prefix>/<box>/events``).

Every event row is written through ``store.sessions.add_event`` (or the migration's own insert),
which refuses a kind that is not listed here; docs/database.md and docs/mqtt.md list them from
here, and the MQTT events schema (schemas/mqtt/events.schema.json) enumerates the same names
(tests/status/test_mqtt_schemas.py keeps it in step).
"""
from __future__ import annotations

#: kind -> what it means, and what its ``detail`` holds.
EVENT_KINDS: dict[str, str] = {
    "session_started": "A session opened. Detail: source=<name> model=<name>.",
    "session_ended": "A session closed. Detail: its end reason, then ': ' and the reason's detail when there is one.",
    "session_recovered": "A session left open by a crash, kill or power cut was closed as interrupted by the next "
                         "recorder, at its last committed frame.",
    "session_continues": "A session continuing one interrupted less than store.resume_after_crash_s ago. "
                         "Detail: continues <uid> (interrupted) and the gap.",
    "camera_lost": "No frame for camera.lost_after_s, or the camera went absent. Detail: how long, or why.",
    "camera_restarted": "The capture process was replaced. Detail: hung, or the exit status of a crashed one.",
    "camera_restored": "The first frame after a camera gap.",
    "camera_usb_reset": "A ZED absent since boot got a USB reset (capture/usb_reset.py). Detail: which devices were "
                        "reset, or why the reset failed.",
    "disk_low": "Free space beside the database fell below store.warn_free_mb (raised once; again after it recovered).",
    "disk_full": "Free space fell below store.min_free_mb, or a commit met a full disk: the session ended as disk_full.",
    "error": "A failure the box reports (camera error after repeated restarts; the text says what and where).",
    "schema_migrated": "The database was migrated to a newer schema version (session_id NULL). Detail: versions, "
                       "migration, agma version, backup file.",
    "session_pruned": "Retention (store.keep_days) deleted a session whose dump had been pulled, with its rows "
                      "(session_id NULL: the row is gone). Detail: its uid, frames, when it ended, when and how its "
                      "dump was pulled.",
}


def check_kind(kind: str) -> str:
    """kind, or ValueError when it is not one of EVENT_KINDS (a programming error, never a user's)."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"not an event kind: {kind!r} (appliance/events.py lists them)")
    return kind
