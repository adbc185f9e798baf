"""`dump --new` fills a folder (a USB stick) with every closed session not already there intact.

Run again, it writes nothing; a damaged or half-copied file (its sha256 does not match) or a
missing .sha256 is written again; a session still being recorded is left for later.
"""
from __future__ import annotations

import sqlite3

from appliance import __version__
from appliance.capture.synthetic import SIMULATED_ZED2_HD720
from appliance.store import sessions
from appliance.store.dump import dump_new
from tests.store.recorded import record


def test_dump_new(tmp_path):
    db = tmp_path / "box.sqlite"
    uids = [record(db, seed=i, n_frames=20)["session_id"] for i in range(3)]
    conn = sqlite3.connect(db)  # an open session (no end_reason yet): not a finished recording
    with conn:
        open_row = sessions.open_session(
            conn, box_id="t", bed_label="", source="synthetic", model="simulated", model_sha256=None, decoder=None,
            fps_nominal=30.0, calibration=SIMULATED_ZED2_HD720, software_version=__version__)
    conn.close()
    usb = tmp_path / "usb"

    first = dump_new(db, usb)
    assert [(o.session_id, o.status) for o in first] == [(u, "written") for u in uids]
    assert open_row.uid not in {o.session_id for o in first}
    assert not (usb / f"{open_row.uid}.sqlite").exists()

    again = dump_new(db, usb)
    assert [o.status for o in again] == ["present"] * 3
    assert [o.sha256 for o in again] == [o.sha256 for o in first]

    damaged = usb / f"{uids[0]}.sqlite"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    (usb / f"{uids[1]}.sqlite.sha256").unlink()
    third = dump_new(db, usb)
    assert [o.status for o in third] == ["written", "written", "present"]
    assert [o.sha256 for o in third] == [o.sha256 for o in first]


def test_box_catch_up_trusts_its_own_folder(tmp_path):
    """verify=False (the box's own dump folder at start-up): a .sha256 beside the file is enough."""
    db = tmp_path / "box.sqlite"
    uid = record(db, n_frames=15)["session_id"]
    folder = tmp_path / "dumps"
    assert [o.status for o in dump_new(db, folder, verify=False)] == ["written"]
    assert [o.status for o in dump_new(db, folder, verify=False)] == ["present"]
    (folder / f"{uid}.sqlite.sha256").unlink()  # a dump cut short before its sidecar: written again
    assert [o.status for o in dump_new(db, folder, verify=False)] == ["written"]
