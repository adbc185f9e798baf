"""`agma doctor`: each check fails for its own reason in a temporary box, and says its fix.

Why: a technician reads doctor's lines before the first session and does what the failing ones
say. So each case below breaks exactly one thing in a box on which the setup's checks all pass
(tests/cli/doctor_setup.py), runs the real `agma --config F doctor --json` in a subprocess, and
asserts that this check failed with a detail naming the cause and a fix saying what to do, and
that every other check of the setup still passed (the machine's own clock and service excepted,
and the few a case necessarily touches, listed with it: a uvc source makes the camera count too).
The parts are real: the store's files are written by `agma record` and then damaged with bytes or
SQL, the calibration by hand in the ZED layout, the engine's sidecar by the sidecar module.
"""
from __future__ import annotations

import importlib.util
import os
import sqlite3

import pytest

from appliance.pose.engines.sidecar import EngineSidecar, write_sidecar
from tests.capture.zed_conf_files import new_format
from tests.cli.doctor_setup import DoctorBox, assert_failed, assert_others_pass


def _state_dir_under_a_file(box):
    (box.root / "a-file").write_text("")
    box.extra_env["AGMA_STATE_DIR"] = str(box.root / "a-file" / "state")
    return "state_dir", "a-file is a file", "set AGMA_STATE_DIR to the box's state directory", ()


def _state_dir_missing(box):
    box.extra_env["AGMA_STATE_DIR"] = str(box.root / "no-such-state")
    return "state_dir", "no-such-state ($AGMA_STATE_DIR) does not exist", "install -d -o agma -g agma", ()


def _disk_below_the_reserve(box):
    box.set(store={"min_free_mb": 1e12})
    return "disk", "not enough disk space to start a session", "make room on", ()


def _disk_below_the_warning(box):
    box.set(store={"warn_free_mb": 1e12})
    return "disk", "is below store.warn_free_mb (1e+12 MB): the daemon raises disk_low at once", "make room on", ()


def _database_garbage(box):
    box.db.write_bytes(b"not a database, just bytes " * 400)
    return "database", "is not an SQLite database (file is not a database)", "move it away", ()


def _database_folder_missing(box):
    box.set(store={"db": str(box.root / "no-such-folder" / "agma.sqlite")})
    return "database", "its folder", "mkdir -p " + str(box.root / "no-such-folder"), ()


def _database_newer_schema(box):
    box.record("1")
    with sqlite3.connect(box.db) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    return "database", "database schema version 99 is newer than this agma", "install the agma that wrote it", ()


def _database_damaged(box):
    box.record("10")
    with sqlite3.connect(box.db) as c:
        page_size, pages = c.execute("PRAGMA page_size").fetchone()[0], c.execute("PRAGMA page_count").fetchone()[0]
    with open(box.db, "r+b") as f:  # garbage over 4 pages in the middle of the frame data
        f.seek(page_size * (pages // 2 - 1))
        f.write(os.urandom(4 * page_size))
    return "database", "is damaged (quick_check", f"sqlite3 {box.db} .recover", ()


def _calibration_not_installed(box):
    box.set(capture={"source": "uvc"})
    return "calibration", f"no SN<serial>.conf installed in {box.state / 'calibration'}", "agma calib install", ("camera",)


def _calibration_not_in_the_sdks_folder(box):
    box.set(capture={"source": "zed", "serial": 12345, "zed_settings_dir": str(box.root / "zed-settings")})
    (box.state / "calibration").mkdir()
    (box.state / "calibration" / "SN12345.conf").write_text(new_format())
    return ("calibration", f"the ZED SDK's folder {box.root / 'zed-settings'} has no SN12345.conf",
            f"agma calib install {box.state / 'calibration' / 'SN12345.conf'} as a user who may write", ("camera",))


def _calibration_differs_from_the_sdks(box):
    settings = box.root / "zed-settings"
    box.set(capture={"source": "zed", "serial": 12345, "zed_settings_dir": str(settings)})
    for folder, text in ((box.state / "calibration", new_format()), (settings, new_format(disto=False))):
        folder.mkdir()
        (folder / "SN12345.conf").write_text(text)
    return "calibration", f"{settings / 'SN12345.conf'} (the ZED SDK's) differs from", "copies the same file to both", ("camera",)


def _calibration_broken(box):
    box.set(capture={"source": "uvc"})
    (box.state / "calibration").mkdir()
    (box.state / "calibration" / "SN777.conf").write_text(new_format().replace("[STEREO]", "[NOT_STEREO]"))
    return "calibration", "SN777.conf", "install the camera's factory file again", ("camera",)


def _engine_missing(box):
    box.set(pose={"model": f"trt:{box.root / 'models' / 'pose.engine'}"})
    return "engine", "pose.engine (pose.model): no such TensorRT engine file", "agma engine build --onnx", ("cuda_kernels",)


def _engine_without_sidecar(box):
    engine = box.root / "pose.engine"
    engine.write_bytes(b"serialised engine bytes")
    box.set(pose={"model": f"trt:{engine}"})
    return "engine", "no engine sidecar beside pose.engine", "agma engine build writes the sidecar", ("cuda_kernels",)


def _engine_without_tensorrt(box):
    if importlib.util.find_spec("tensorrt") is not None:
        pytest.skip("tensorrt is installed here: this case is for a machine without it")
    engine = box.root / "pose.engine"
    engine.write_bytes(b"serialised engine bytes")
    write_sidecar(engine, EngineSidecar(tensorrt_version="10.3.0", gpu_name="Orin", compute_capability="8.7",
                                        onnx_sha256="ab" * 32, precision="fp16", profile_min_batch=1,
                                        profile_opt_batch=2, profile_max_batch=4, built_at="2026-12-02T08:00:00Z",
                                        software_version="agma 0.1.0", onnx_path="pose.onnx", engine_file="pose.engine"))
    box.set(pose={"model": f"trt:{engine}"})
    return "engine", "TensorRT is not installed here", "python3-libnvinfer", ("cuda_kernels",)


def _cuda_kernels_not_built(box):
    box.set(pose={"model": f"trt:{box.root / 'pose.engine'}"})
    return "cuda_kernels", f"no compiled CUDA decoder in {box.cache / 'cuda'}", "agma engine kernels", ("engine",)


def _clock_behind_the_database(box):
    box.record("1")
    with sqlite3.connect(box.db) as c:  # as if written while the clock was 10 days ahead
        c.execute("UPDATE sessions SET started_at_ns = started_at_ns + 864000000000000, "
                  "ended_at_ns = ended_at_ns + 864000000000000")
    return "clock", "the clock is behind, or was ahead when that was written", "timedatectl set-ntp true", ()


def _gpio_no_such_chip(box):
    box.set(button={"enabled": True, "chip": str(box.root / "gpiochip7")})
    return "gpio", f"button.chip {box.root / 'gpiochip7'}: no such device", "a chip gpiodetect lists", ()


def _gpio_a_plain_file(box):
    (box.root / "gpiochip0").write_text("")
    box.set(button={"enabled": True, "chip": str(box.root / "gpiochip0")})
    return "gpio", "not a character device", "a chip gpiodetect lists", ()


def _gpio_not_a_gpio_chip(box):
    box.set(button={"enabled": True, "chip": "/dev/null"})
    return "gpio", "button.chip /dev/null: not a GPIO character device", "a chip gpiodetect lists", ()


def _broker_unreachable(box):
    from tests.runtime.mqtt_daemon import free_port

    port = free_port()  # nothing listens there
    box.set(mqtt={"enabled": True, "host": "127.0.0.1", "port": port})
    return "broker", f"cannot connect to 127.0.0.1:{port}", "check mqtt.host and mqtt.port", ()


CASES = [_state_dir_under_a_file, _state_dir_missing, _disk_below_the_reserve, _disk_below_the_warning,
         _database_garbage, _database_folder_missing, _database_newer_schema, _database_damaged,
         _calibration_not_installed, _calibration_not_in_the_sdks_folder, _calibration_differs_from_the_sdks,
         _calibration_broken, _engine_missing, _engine_without_sidecar, _engine_without_tensorrt,
         _cuda_kernels_not_built, _clock_behind_the_database, _gpio_no_such_chip, _gpio_a_plain_file,
         _gpio_not_a_gpio_chip, _broker_unreachable]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.lstrip("_") for c in CASES])
def test_the_check_fails_for_its_own_reason_and_says_its_fix(tmp_path, case):
    box = DoctorBox(tmp_path)
    name, detail, fix, touched = case(box)
    proc, checks = box.doctor()
    assert proc.returncode == 1
    assert_failed(checks[name], detail=detail, fix=fix)
    assert_others_pass(checks, name, *touched)
