"""Every invalid reason the validity rules can give has exactly one stored code, and the docs name them all.

joint_samples stores the reason as a small integer (schema.INVALID_REASON_CODES, fixed forever);
a reason without a code would make the writer refuse a frame mid-recording, and a code for a
reason that no longer exists would still decode, silently. The joints view's documentation of
invalid_reason is generated from stereo.reasons.REASONS.
"""
from __future__ import annotations

from appliance.store import schema
from appliance.stereo.reasons import REASONS


def test_codes_cover_the_reasons_exactly():
    codes = dict(schema.INVALID_REASON_CODES)
    assert sorted(codes.values()) == sorted(REASONS)
    assert len(codes) == len(set(codes.values())) == len(REASONS)
    assert schema.INVALID_CODE_BY_REASON == {r: c for c, r in schema.INVALID_REASON_CODES}


def test_view_doc_names_every_reason():
    (column,) = [c for c in schema.JOINTS_VIEW.columns if c.name == "invalid_reason"]
    for reason in REASONS:
        assert reason in column.meaning and f"'{reason}'" in column.expr
