"""`agma doctor` passes what is right, with the figures a technician needs: so its failures mean something.

Why: a check that can only fail tells nothing. Here each check of the setup is made right with the
real tools and must pass, saying what it found:

- calibration: `agma calib install SN<serial>.conf` puts the file in the state directory and the
  ZED SDK's folder; doctor then finds the same file in both, by the one serial installed (zed), or
  takes the one installed (uvc);
- database: a file at schema version 4 (tests/store/fixtures/schema_v4.sql, written by agma at v4)
  is intact and names the migrations the next start applies and its backup; doctor applies none;
- disk: after a real recorded session the recording rate is measured from the database (its used
  bytes over the last 7 days, at least one day: store/retention.py) and the days left follow;
  with the pending dumps on the same disk the rate is twice that.
"""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from appliance.store.diskguard import free_bytes
from appliance.store.migrations import MIGRATIONS
from appliance.store.schema import SCHEMA_VERSION
from tests.capture.zed_conf_files import new_format
from tests.cli.doctor_setup import DoctorBox, assert_others_pass
from tests.helpers import agma

V4 = Path(__file__).resolve().parents[1] / "store" / "fixtures" / "schema_v4.sql"


def test_an_installed_calibration_passes_for_the_zed_and_the_uvc_source(tmp_path):
    box = DoctorBox(tmp_path)
    settings = tmp_path / "zed-settings"
    box.set(capture={"source": "zed", "zed_settings_dir": str(settings)})
    conf = tmp_path / "SN31234567.conf"
    conf.write_text(new_format())
    installed = agma("--config", str(box.config), "calib", "install", str(conf), env=box.env())
    assert installed.returncode == 0, installed.stderr
    _, checks = box.doctor()
    assert checks["calibration"] == {
        "name": "calibration", "ok": True, "fix": None,
        "detail": f"SN31234567.conf (serial from the one installed in {box.state / 'calibration'}) in "
                  f"{box.state / 'calibration'} and {settings}, the same file; HD720 loads"}
    assert_others_pass(checks, "camera")  # no ZED on this machine's USB
    box.set(capture={"source": "uvc"})
    _, checks = box.doctor()
    assert checks["calibration"]["ok"] is True
    assert checks["calibration"]["detail"] == (f"{box.state / 'calibration' / 'SN31234567.conf'} (serial 31234567 from "
                                               f"the one installed in {box.state / 'calibration'}, HD720) loads")


def test_an_older_database_is_intact_and_its_pending_migrations_are_named_not_applied(tmp_path):
    box = DoctorBox(tmp_path)
    with sqlite3.connect(box.db) as c:
        c.executescript(V4.read_text(encoding="utf-8"))
    before = box.db.read_bytes()
    _, checks = box.doctor()
    pending = [m.name for m in MIGRATIONS if m.from_version >= 4]
    assert pending and SCHEMA_VERSION > 4
    assert checks["database"]["ok"] is True
    assert checks["database"]["detail"] == (
        f"{box.db}: intact (quick_check), schema version 4; the next start migrates it to {SCHEMA_VERSION} "
        f"({', '.join(pending)}), after a backup copy agma.sqlite.v4.bak")
    assert box.db.read_bytes() == before and sorted(p.name for p in box.data.iterdir()) == ["agma.sqlite"]


_RATE = re.compile(r"^on (?P<dir>\S+): (?P<free>\d+) MB free; (?P<rate>[\d.]+) MB/day recorded over the last 7 days: "
                   r"(?P<days>[\d.]+) days left at this rate")


def test_the_disk_check_measures_the_rate_and_the_days_left_from_a_recorded_session(tmp_path):
    box = DoctorBox(tmp_path).set(store={"dump_dir": "off"})
    box.record("60")  # 1800 frames, just now: the database is younger than a day, so a day's worth
    size = box.db.stat().st_size
    with sqlite3.connect(f"file:{box.db}?mode=ro", uri=True) as c:
        page_size = c.execute("PRAGMA page_size").fetchone()[0]
        trees = c.execute("SELECT COUNT(*) FROM sqlite_master WHERE rootpage > 0").fetchone()[0]
    _, checks = box.doctor()
    free_after = free_bytes(box.db)
    disk = checks["disk"]
    assert disk["ok"] is True, disk
    m = _RATE.match(disk["detail"])
    assert m, disk["detail"]
    assert m["dir"] == str(box.data)
    rate_mb = float(m["rate"])
    # the file's bytes less the empty schema's pages (one per table and index, and page 1), per day
    assert (size - (trees + 1) * page_size) / 1e6 - 0.05 <= rate_mb <= size / 1e6 + 0.05, (rate_mb, size)
    assert abs(float(m["days"]) * rate_mb - free_after / 1e6) <= 0.02 * free_after / 1e6, disk["detail"]
    box.set(store={"dump_dir": ""})  # the pending dumps wait beside the database: each frame stored twice
    _, checks = box.doctor()
    twice = _RATE.match(checks["disk"]["detail"])
    assert twice and abs(float(twice["rate"]) - 2 * rate_mb) <= 0.1, checks["disk"]["detail"]
    assert "(the pending dumps share the disk: twice the rate)" in checks["disk"]["detail"]
