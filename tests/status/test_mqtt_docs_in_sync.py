"""docs/mqtt.md's topic table is the code's: generated from appliance/status/topics.py TOPICS.

The sink, `agma ward`, the schemas and the docs read their topics from one table; a topic added,
renamed or given another QoS there must show in the docs the same day, between the markers.
"""
from __future__ import annotations

import re

from appliance.status import topics
from tests.helpers import REPO

DOC = REPO / "docs" / "mqtt.md"


def _between(text: str, begin: str, end: str) -> str:
    m = re.search(re.escape(begin) + r"\n(.*?)\n" + re.escape(end), text, flags=re.S)
    assert m, f"docs/mqtt.md has no {begin} ... {end} block"
    return m.group(1)


def test_the_topic_table_is_generated_from_topics():
    table = _between(DOC.read_text(encoding="utf-8"), "<!-- topics:begin -->", "<!-- topics:end -->")
    assert table == topics.docs_table(), "paste appliance.status.topics.docs_table() between the topics markers"


def test_every_topic_and_event_kind_is_in_the_docs():
    from appliance.events import EVENT_KINDS

    text = DOC.read_text(encoding="utf-8")
    for t in topics.TOPICS:
        assert f"`<prefix>/<box_id>/{t.name}`" in text
    for kind in EVENT_KINDS:
        assert re.search(rf"\b{kind}\b", text), f"docs/mqtt.md does not name the event kind {kind}"
