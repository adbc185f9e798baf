"""Bed labels: printable, 1-32 characters, and only ever a place (DESIGN.md, "Privacy").

validate_bed_label is shared by the parser and the config check of box.bed_label, so what a nurse
types on a command line and what IT writes in the config are held to one rule.
"""
from __future__ import annotations

import pytest

from appliance.status.commands import MAX_BED_LABEL, CommandError, parse_command, validate_bed_label


@pytest.mark.parametrize("label", ["NICU 3", "Bed 12", "Room 1204 bed 12", "Warmer B-7", "Néonat lit 4",
                                   "12345", "x" * MAX_BED_LABEL, "Bay 3-12"])
def test_places_are_accepted(label):
    """Names of beds, rooms and warmers, numbers up to five digits in a row included."""
    assert validate_bed_label(label) is None


@pytest.mark.parametrize("label, words", [
    ("", "bed label is empty"),
    ("x" * (MAX_BED_LABEL + 1), f"bed label is longer than {MAX_BED_LABEL} characters ({MAX_BED_LABEL + 1})"),
    ("NICU\t3", "not printable (U+0009)"),
    ("bed\u200b3", "not printable (U+200B)"),  # zero-width space: two labels that look the same
    (" NICU 3", "leading or trailing spaces"),
    ("NICU 3 ", "leading or trailing spaces"),
    ("MRN 4417302", "looks like an identifier"),
    ("943 476 5919", "looks like an identifier"),  # an NHS number's shape
    ("2023-11-14", "looks like an identifier"),     # a date (of birth)
    ("Bed 4 12.03.23", "looks like an identifier"),
    (17, "bed label must be a string"),
])
def test_non_places_are_refused(label, words):
    """Empty, too long, invisible characters, padded, or shaped like a patient identifier or a date."""
    reason = validate_bed_label(label)  # type: ignore[arg-type]
    assert reason is not None and words in reason and "\n" not in reason


def test_parser_uses_the_same_rule():
    """A start carrying an identifier-shaped label is refused with the same reason, and echoes its request id."""
    got = parse_command(b'{"action": "start", "bed_label": "MRN 4417302", "request_id": "r9"}')
    assert got == CommandError(validate_bed_label("MRN 4417302"), "r9")
