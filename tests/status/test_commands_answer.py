"""Answers: one JSON document on one line, NaN as null, and any string encodable.

The socket's client and MQTT's consumers read one line per answer; a NaN (a missing fps) written
as JSON's non-standard NaN would break strict parsers, and a newline inside would split the answer.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from appliance.status.commands import encode_answer


def test_one_line_nan_as_null():
    out = encode_answer({"ok": True, "fps": math.nan, "elapsed_s": math.inf, "frames": 12,
                         "nested": {"x": [1.5, -math.inf]}, "error": "two\nlines"})
    assert out.endswith(b"\n") and out.count(b"\n") == 1
    assert json.loads(out) == {"ok": True, "fps": None, "elapsed_s": None, "frames": 12,
                               "nested": {"x": [1.5, None]}, "error": "two\nlines"}


def test_numpy_scalars_and_odd_strings():
    """Health snapshots carry numpy numbers; a request id may hold any character the parser let through."""
    out = encode_answer({"fps": np.float32(29.5), "drops": np.int64(3), "bad": np.float64("nan"),
                         "label": "lit \u00e9 \ud800"})
    assert out.isascii()
    assert json.loads(out) == {"fps": 29.5, "drops": 3, "bad": None, "label": "lit \u00e9 \ud800"}


def test_what_json_cannot_hold_is_a_type_error():
    """A programmer's error, which the control socket turns into an internal-error answer."""
    with pytest.raises(TypeError):
        encode_answer({"when": object()})
    with pytest.raises(TypeError):
        encode_answer(["not", "a", "mapping"])  # type: ignore[arg-type]
