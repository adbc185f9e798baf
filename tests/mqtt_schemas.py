"""The MQTT payload schemas (schemas/mqtt/*.schema.json, Draft 2020-12), loaded with their $refs resolved."""
from __future__ import annotations

import json
from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from tests.helpers import REPO

FOLDER = REPO / "schemas" / "mqtt"


@lru_cache(maxsize=None)
def schemas() -> dict[str, dict]:
    return {p.name.removesuffix(".schema.json"): json.loads(p.read_text()) for p in sorted(FOLDER.glob("*.schema.json"))}


@lru_cache(maxsize=None)
def _registry() -> Registry:
    return Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas().values())


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schemas()[name], registry=_registry(), format_checker=FormatChecker())


def validate(name: str, payload) -> None:
    """Raise jsonschema.ValidationError when payload does not satisfy schemas/mqtt/<name>.schema.json."""
    validator(name).validate(payload)
