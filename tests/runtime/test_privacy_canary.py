"""Privacy canary: after a full session with MQTT and the socket, no image and no frame is left anywhere.

Why: the box films newborns. Images exist only in RAM (the capture process's ring in /dev/shm,
by design, while the daemon runs); the only way an image may reach a disk is `agma record
--write-replay`, on purpose. So after a real session — a real `agma daemon` with the synthetic
camera drawing real images (sim.render), in its capture process (capture.process: frames through
the ring), publishing to a real Mosquitto, started and stopped over the control socket, then
stopped — nothing may hold a JPEG (FF D8 FF), a PNG (89 50 4E 47 0D 0A 1A 0A), Matroska/FFV1
(EBML 1A 45 DF A3), a NumPy .npy (\\x93NUMPY) or any blob of a quarter frame or more
(1280 x 720 x 3 / 4 bytes): not the state folder (database, WAL, pending dumps, lock, reserve,
socket), not the daemon's TMPDIR or the test's temporary folder, not /dev/shm (the entries made
during the test: the ring must be unlinked), not the daemon's log, not one published MQTT payload.
SQLite files are read cell by cell (no BLOB, no oversized value) rather than byte by byte: their
integers are binary, and a 3-byte run FF D8 FF is the integer -9985 (a z of -99.85 mm), no image.
The scanner is first shown to catch each kind, and the live ring to be caught, so it can fail.
"""
from __future__ import annotations

import io
import sqlite3
import tempfile
from pathlib import Path

import numpy as np

from tests.helpers import wait_until
from tests.runtime.daemon_env import ctl, daemon_env, running_daemon, status, stop_daemon
from tests.runtime.mqtt_daemon import Broker, mqtt_env, watching

WIDTH, HEIGHT = 1280, 720  # capture.resolution HD720, the synthetic camera's
FRAME_BYTES = WIDTH * HEIGHT * 3
LIMIT = FRAME_BYTES // 4  # a quarter frame: nothing this large is anything but image data here
MAGIC = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n", "Matroska/EBML": b"\x1a\x45\xdf\xa3",
         "NumPy .npy": b"\x93NUMPY"}
SHM = Path("/dev/shm")
SQLITE_HEADER = b"SQLite format 3\x00"


def scan_bytes(data: bytes, where: str) -> list[str]:
    found = [f"{where}: {kind}" for kind, magic in MAGIC.items() if magic in data]
    if len(data) >= LIMIT:
        found.append(f"{where}: {len(data)} bytes (a quarter frame is {LIMIT})")
    return found


def scan_sqlite(path: Path) -> list[str]:
    """Every cell of every table: no BLOB at all, no value a quarter frame long, no magic in text."""
    found = []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for t in tables:
            cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')]
            for c in cols:
                blobs, longest = conn.execute(f'SELECT COALESCE(SUM(typeof("{c}") = \'blob\'), 0), '
                                              f'COALESCE(MAX(length(CAST("{c}" AS BLOB))), 0) FROM "{t}"').fetchone()
                if blobs:
                    found.append(f"{path}: {blobs} BLOB value(s) in {t}.{c}")
                if longest >= LIMIT:
                    found.append(f"{path}: a {longest}-byte value in {t}.{c}")
                for (text,) in conn.execute(f'SELECT "{c}" FROM "{t}" WHERE typeof("{c}") = \'text\''):
                    found += scan_bytes(text.encode("utf-8", "surrogatepass")[:LIMIT], f"{path} {t}.{c}")
    finally:
        conn.close()
    return found


def scan_path(path: Path) -> list[str]:
    """A file (SQLite read cell by cell, its -wal/-shm through SQLite), or every file under a folder."""
    if path.is_dir() and not path.is_symlink():
        return [f for p in sorted(path.rglob("*")) if not p.is_dir() for f in scan_path(p)]
    if not path.is_file():  # a socket, a fifo: no content to hold an image
        return []
    if path.name.endswith(("-wal", "-shm", "-journal")) and Path(str(path).rsplit("-", 1)[0]).is_file():
        return []  # read through its database, below
    with open(path, "rb") as f:
        head = f.read(len(SQLITE_HEADER))
    if head == SQLITE_HEADER:
        return scan_sqlite(path)
    return scan_bytes(path.read_bytes(), str(path))


def test_the_scanner_catches_each_kind(tmp_path):
    import cv2

    image = np.random.default_rng(0).integers(0, 255, (HEIGHT // 8, WIDTH // 8, 3), dtype=np.uint8)
    npy = io.BytesIO()
    np.save(npy, image)
    samples = {"JPEG": cv2.imencode(".jpg", image)[1].tobytes(), "PNG": cv2.imencode(".png", image)[1].tobytes(),
               "Matroska/EBML": b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + bytes(64), "NumPy .npy": npy.getvalue()}
    for kind, data in samples.items():
        (tmp_path / f"x.{kind[:3]}").write_bytes(b"some text before " + data)
        assert [f for f in scan_path(tmp_path / f"x.{kind[:3]}") if kind in f], kind
    (tmp_path / "frame.raw").write_bytes(image.tobytes() * 64)  # a whole raw frame, no header
    assert any("bytes (a quarter frame" in f for f in scan_path(tmp_path / "frame.raw"))
    db = tmp_path / "b.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (v)")
        c.execute("INSERT INTO t VALUES (?)", (samples["PNG"],))
    assert any("BLOB value" in f for f in scan_path(db))


def _shm() -> set[str]:
    return {p.name for p in SHM.iterdir()} if SHM.is_dir() else set()


def test_privacy_canary(tmp_path):
    state, daemon_tmp = tmp_path / "state", tmp_path / "daemon-tmp"
    state.mkdir()
    daemon_tmp.mkdir()
    system_tmp = Path(tempfile.gettempdir())
    tmp_before = {p.name for p in system_tmp.iterdir()}
    shm_before = _shm()
    with Broker(tmp_path) as broker, watching(broker.port) as desk:
        env = daemon_env(state, **mqtt_env(broker.port), AGMA_SIM__RENDER="true", AGMA_CAPTURE__PROCESS="true",
                         AGMA_STORE__DUMP_DIR="", TMPDIR=str(daemon_tmp))
        with running_daemon(env, args=("-v",)) as proc:
            wait_until(lambda: status(env).get("mqtt") == "connected", "the box connected", proc=proc)
            code, started = ctl(env, "start")
            assert code == 0 and started["ok"], started
            wait_until(lambda: status(env).get("frames", 0) >= 90, "three seconds of frames stored", proc=proc)
            # the frames really are in RAM, in the ring, now: and the scanner catches them there
            rings = [SHM / n for n in _shm() - shm_before if n.startswith("agma-")]
            assert rings and max(r.stat().st_size for r in rings) >= FRAME_BYTES, sorted(_shm() - shm_before)
            assert any(scan_path(r) for r in rings)
            code, stopped = ctl(env, "stop")
            assert code == 0 and stopped["ok"], stopped
            uid = started["session_id"]
            wait_until(lambda: (state / "dumps" / f"{uid}.sqlite.sha256").is_file(), "the pending dump", proc=proc)
            assert stop_daemon(proc) == 0
            log_lines = list(proc.log.lines)
        messages = list(desk.messages)
    assert any(t.endswith("/status") for t, *_ in messages) and any(t.endswith("/events") for t, *_ in messages)

    found = scan_path(tmp_path)  # the state folder, the daemon's TMPDIR, the broker's folder
    new_shm = sorted(_shm() - shm_before)
    assert not [n for n in new_shm if n.startswith("agma-")], f"the ring was not unlinked: {new_shm}"
    for name in new_shm:
        found += scan_path(SHM / name)
    for name in sorted({p.name for p in system_tmp.iterdir()} - tmp_before):  # the test's own temporary folder
        if not tmp_path.is_relative_to(system_tmp / name):  # (tmp_path: scanned above)
            found += scan_path(system_tmp / name)
    log = "".join(log_lines).encode("utf-8", "surrogateescape")
    assert log_lines and "session" in log.decode("utf-8", "replace")
    found += scan_bytes(log, "the daemon's log")
    found += [f for t, payload, _, _ in messages for f in scan_bytes(payload, f"MQTT {t}")]
    assert found == [], "\n".join(found)
    assert (state / "box.sqlite").is_file() and (state / "dumps" / f"{uid}.sqlite").is_file()
    assert not scan_sqlite(state / "dumps" / f"{uid}.sqlite")
