"""A researcher exports from the dump they pulled: the same files as from the box's database."""
from __future__ import annotations

import numpy as np

from appliance.store.dump import dump_session
from appliance.store.export import export_session
from appliance.store.listing import open_readonly
from tests.store.recorded import export_fixture_db


def test_same_exports(tmp_path):
    db, uid = export_fixture_db(tmp_path)
    dump = dump_session(db, uid, tmp_path / "d.sqlite").path
    out = {}
    for name, source in (("db", db), ("dump", dump)):
        conn = open_readonly(source)
        out[name] = [export_session(conn, uid, "csv", tmp_path / f"{name}.csv")[0],
                     export_session(conn, uid, "csv", tmp_path / f"{name}.w.csv", wide=True)[0],
                     export_session(conn, uid, "npz", tmp_path / f"{name}.npz")[0]]
        conn.close()
    for a, b in zip(out["db"][:2], out["dump"][:2]):
        assert a.read_bytes() == b.read_bytes()
    za, zb = np.load(out["db"][2]), np.load(out["dump"][2])
    for k in za.files:
        np.testing.assert_array_equal(za[k], zb[k])
