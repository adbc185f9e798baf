"""docs/controls.md's tables are generated from the code (press_intent, PATTERNS, RULES) and must stay equal.

Why: the nurse-facing description of the button and LED is only useful if it is what the box does.
"""
from __future__ import annotations

from appliance.status import led
from tests.helpers import REPO


def test_controls_doc_is_current():
    text = (REPO / "docs" / "controls.md").read_text(encoding="utf-8")
    assert led.generated_part(text) == led.docs_markdown(), "run: python -m appliance.status.led --write docs/controls.md"


def test_the_table_shows_the_rules():
    doc = led.docs_markdown()
    assert "| recording | ack | stop |" in doc
    assert "| idle, ready | start | refuse |" in doc
    assert '| idle, "ended" showing | clear | clear |' in doc
    assert "`..##..##`" in doc  # the ack flicker drawn from its intervals
