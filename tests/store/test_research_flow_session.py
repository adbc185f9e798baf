"""The researcher's path end to end, through the command line: record --as-fast-as-possible, dump,
export to C3D, read the parts back in ezc3d and `c3d`.

CI runs it on a 2-minute session (3,600 frames). AGMA_NIGHTLY=1 runs the issue's one-hour session
(108,000 frames: two C3D parts of 54,000).

It used to assert the dump's wall time (< 30 s): a speed, which a busy or slower machine breaks
while nothing is wrong. The wall times are still printed (run with -s to see them); the speed
itself belongs to `agma bench`, not to a test.
"""
from __future__ import annotations

import os
import sqlite3
import time

import numpy as np

from appliance.joints import JOINT_NAMES
from tests.helpers import agma, last_json
from tests.store.c3d_readers import read_both

NIGHTLY = os.environ.get("AGMA_NIGHTLY") == "1"
DURATION_S = 3600 if NIGHTLY else 120


def test_record_dump_export_c3d(tmp_path):
    env = {"AGMA_SIM__RENDER": "false", "AGMA_STORE__DUMP_DIR": "off"}
    db = tmp_path / "box.sqlite"
    rec = last_json(agma("record", "--duration", str(DURATION_S), "--as-fast-as-possible", "--db", str(db), "--json",
                         env=env, timeout=1800, check=True))
    n = 30 * DURATION_S
    assert rec["frames"] == n and rec["dropped_frames"] == 0

    t0 = time.perf_counter()
    proc = agma("dump", rec["session_id"], "-o", str(tmp_path / "d.sqlite"), "--db", str(db), env=env, timeout=600,
                check=True)
    wall = time.perf_counter() - t0
    sha, path = proc.stdout.strip().splitlines()[-1].split("  ")
    print(f"\ndump of {n} frames: {wall:.2f} s wall (process included); {os.path.getsize(path) / 1e6:.0f} MB")
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT uid, frames FROM sessions").fetchall() == [(rec["session_id"], n)]
        sample = [0, 1, n // 3, n // 2 + 7, 54_000 - 1, 54_000, n - 1]
        sample = sorted({i for i in sample if i < n})
        db_xyz = {fi: np.array(conn.execute("SELECT x_mm, y_mm, z_mm FROM joints WHERE frame_index = ? ORDER BY joint",
                                            (fi,)).fetchall(), dtype=float) for fi in sample}
    finally:
        conn.close()

    t0 = time.perf_counter()
    out = last_json(agma("export", rec["session_id"], "--format", "c3d", "-o", str(tmp_path / "s.c3d"),
                         "--db", path, "--json", env=env, timeout=600, check=True))
    print(f"C3D export: {time.perf_counter() - t0:.2f} s wall; {out['paths']}")
    parts = [p for p in out["paths"] if p.endswith(".c3d")]
    expected_parts = -(-n // 54_000)
    assert len(parts) == expected_parts
    assert out["paths"][-1].endswith("s.t_ns.csv")
    for k, part in enumerate(parts):
        lo = 54_000 * k
        frames_here = min(n - lo, 54_000)
        for c in read_both(part):
            assert c.points.shape == (frames_here, 17, 3), (c.reader, part)
            assert c.labels == list(JOINT_NAMES) and c.rate == 30.0 and c.agma_first_frame_index == lo
            for fi in (i for i in sample if lo <= i < lo + frames_here):
                np.testing.assert_array_equal(c.points[fi - lo], db_xyz[fi].astype(np.float32), err_msg=f"{c.reader} {fi}")

