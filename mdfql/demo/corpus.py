"""The strings of the sample's word and sentence pools (`mdfql.demo.text`), for the demo models
trained or weighted on them."""

from __future__ import annotations

from typing import Any


def walk_strings(value: Any) -> list[str]:
    """Every string inside nested dicts, tuples and lists, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [s for v in value for s in walk_strings(v)]
    return []
