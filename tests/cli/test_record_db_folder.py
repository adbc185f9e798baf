"""`agma record --db` never creates a mistyped folder tree: the folder of a configured store.db must exist.

Wave 1 created every missing folder (`--db /data/agam/box.sqlite` quietly recorded into a new
/data/agam). Now a configured path in a missing folder is a configuration error (exit 78, one line
naming where it came from); only the default location, the user's data directory, is created.
"""
from __future__ import annotations

from tests.helpers import agma, last_json


def test_missing_folder_is_refused_and_nothing_created(tmp_path):
    db = tmp_path / "typo" / "deeper" / "box.sqlite"
    proc = agma("record", "--duration", "1", "--as-fast-as-possible", "--db", str(db), "--json")
    assert proc.returncode == 78
    assert proc.stderr.strip().splitlines() == [
        f"agma record: command line --db: store.db: folder {db.parent} does not exist "
        "(create it first; only the default location is created)"]
    assert last_json(proc)["ok"] is False
    assert list(tmp_path.iterdir()) == []


def test_from_the_environment_names_the_variable(tmp_path):
    db = tmp_path / "nope" / "box.sqlite"
    proc = agma("record", "--duration", "1", env={"AGMA_STORE__DB": str(db)})
    assert proc.returncode == 78 and "environment AGMA_STORE__DB: store.db: folder" in proc.stderr
    assert not (tmp_path / "nope").exists()


def test_default_location_is_created(tmp_path):
    xdg = tmp_path / "xdg"
    proc = agma("record", "--duration", "1", "--as-fast-as-possible", "--json",
                env={"XDG_DATA_HOME": str(xdg), "AGMA_SIM__RENDER": "false"})
    assert proc.returncode == 0, proc.stderr
    assert last_json(proc)["db"] == str(xdg / "agma" / "agma.sqlite") and (xdg / "agma" / "agma.sqlite").is_file()
