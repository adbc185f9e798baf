"""`agma doctor` writes nothing: every file and folder of the box it examined is as it was, to the nanosecond.

Why: doctor is run on a box before (and after) it records, by a technician as root or as the
service's user; a check that "fixes" something on its way (creating the database or its folder,
running a migration, making SQLite's -wal/-shm beside a closed database, compiling the kernels,
writing the USB reset's state) would change what the next start finds. So a whole box is set up
under one folder (tests/cli/doctor_setup.py), every check's subject present and most of them
failing (a zed source without a camera, a TensorRT engine without TensorRT, the button on a chip
that is not there, a broker nobody listens on), and the folder's every entry (type, size, mtime
in ns, a file's bytes; a folder's mtime moves if anything was made in it and removed again) is
compared before and after doctor. Then the same with nothing there yet: no database, no state
directory, no cache, $HOME empty: none of them is created.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tests.capture.zed_conf_files import new_format
from tests.cli.doctor_setup import DoctorBox
from tests.helpers import agma
from tests.runtime.mqtt_daemon import free_port


def snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
    st = root.stat()
    out["."] = (st.st_mode, st.st_size, st.st_mtime_ns, None)
    return out


def test_a_full_box_is_left_exactly_as_it_was(tmp_path):
    box = DoctorBox(tmp_path)
    settings = tmp_path / "zed-settings"
    engine = tmp_path / "models" / "pose.engine"
    engine.parent.mkdir()
    engine.write_bytes(b"serialised engine bytes")
    box.set(capture={"source": "zed", "zed_settings_dir": str(settings)},
            button={"enabled": True, "chip": str(tmp_path / "gpiochip0")},
            mqtt={"enabled": True, "host": "127.0.0.1", "port": free_port()},
            store={"dump_dir": ""}, pose={"model": f"trt:{engine}"})
    conf = tmp_path / "SN31234567.conf"
    conf.write_text(new_format())
    assert agma("--config", str(box.config), "calib", "install", str(conf), env=box.env()).returncode == 0
    box.record("5")  # a real database, closed by its writer: no -wal, no -shm
    # a WAL database (header bytes 18-19: read and write version 2), read from its bytes: even a
    # plain read-only sqlite3 connection would leave a -wal and a -shm beside it
    assert box.db.read_bytes()[18:20] == b"\x02\x02"
    (box.cache / "cuda").mkdir()
    before = snapshot(tmp_path)
    assert {"data/agma.sqlite", "state/calibration/SN31234567.conf", "zed-settings/SN31234567.conf"} <= set(before)
    assert not any(name.endswith(("-wal", "-shm")) for name in before)
    _, checks = box.doctor()
    for name in ("database", "disk", "calibration", "state_dir", "config"):
        assert checks[name]["ok"] is True, checks[name]
    for name in ("camera", "engine", "cuda_kernels", "broker", "gpio"):  # each looked, and failed
        assert checks[name]["ok"] is False, checks[name]
    assert snapshot(tmp_path) == before


def test_nothing_is_created_where_nothing_is_yet(tmp_path):
    box = DoctorBox(tmp_path)
    for d in (box.state, box.cache):
        d.rmdir()
    box.set(store={"db": ""}, capture={"source": "uvc"})  # the default location: $XDG_DATA_HOME/agma/agma.sqlite
    box.extra_env["XDG_DATA_HOME"] = str(box.home / "data")
    before = snapshot(tmp_path)
    _, checks = box.doctor()
    assert checks["database"]["detail"] == f"no database yet at {box.home / 'data' / 'agma' / 'agma.sqlite'}: " \
                                           "the first session creates it"
    assert checks["state_dir"]["ok"] is False and checks["calibration"]["ok"] is False
    assert snapshot(tmp_path) == before
    assert not box.state.exists() and not box.cache.exists() and list(box.home.iterdir()) == []
