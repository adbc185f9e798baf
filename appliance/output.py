"""`--json` output: one JSON document on one line, the last line of stdout (DESIGN.md, "Command line").

The one module that writes it, for the commands and for the cli's error document alike. JSON has no
NaN: a missing number (NaN, an infinity) is written as null.
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any


def clean(obj: Any) -> Any:
    """JSON has no NaN: missing numbers become null (also inside dicts, lists, tuples, NumPy scalars)."""
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return clean(obj.item())
    return obj


def emit_json(obj: Any) -> None:
    """Print one JSON document on one line (the last line of stdout)."""
    sys.stdout.write(json.dumps(clean(obj), separators=(",", ":"), allow_nan=False) + "\n")
    sys.stdout.flush()
