"""The C3D writer's own rules, on hand-made points: NaN becomes an invalid point (0, 0, 0, residual
-1) and stays invalid in both readers; a part is refused beyond the 16-bit frame numbers; text that
C3D cannot hold does not break the file."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from appliance.store.c3d_format import MAX_FRAMES, custom_group, write_c3d
from tests.store.c3d_readers import read_both


def test_hand_made_points(tmp_path):
    pts = np.arange(4 * 2 * 3, dtype=float).reshape(4, 2, 3) + 0.25
    pts[1, 0, 2] = np.nan  # one coordinate missing: the whole point is invalid
    pts[3] = np.nan
    g = custom_group(4, "AGMA", "test")
    g.add_str("SESSION_UID", "bäby-box-" + "x" * 300, "non-ASCII and too long: replaced and cut")
    path = tmp_path / "h.c3d"
    write_c3d(path, pts, ["a", "bb"], 25.0, extra_groups=[g])
    raw = path.read_bytes()
    data_start = struct.unpack_from("<H", raw, 16)[0]  # header word 9
    words = np.frombuffer(raw, "<f4", count=4 * 2 * 4, offset=(data_start - 1) * 512).reshape(4, 2, 4)
    assert words[1, 0].tolist() == [0.0, 0.0, 0.0, -1.0] and words[0, 0].tolist() == [0.25, 1.25, 2.25, 0.0]
    for c in read_both(path):
        assert c.labels == ["a", "bb"] and c.rate == 25.0 and c.points.shape == (4, 2, 3), c.reader
        valid = ~np.isnan(pts).any(axis=2)
        assert ((c.residual == -1) == ~valid).all(), c.reader
        np.testing.assert_array_equal(c.points[valid], pts[valid].astype(np.float32))
        assert c.agma_session_uid.startswith("b?by-box-") and len(c.agma_session_uid) == 255


def test_too_many_frames_refused(tmp_path):
    with pytest.raises(ValueError, match="65535"):
        write_c3d(tmp_path / "x.c3d", np.zeros((MAX_FRAMES + 1, 1, 3)), ["a"], 30.0)
