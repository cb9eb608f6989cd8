"""Lenient parsing of the SDK's extended JSON lines (NaN, Infinity, 64-bit ints)."""

from __future__ import annotations

import json
from typing import Any

import orjson

#: orjson reads an integer outside [-2**63, 2**64) as the nearest float, which is at least
#: this large; a float this large sends the document to the exact parser.
_HUGE = float(2**63)


def loads(text: str | bytes) -> Any:
    """Parse one JSON document exactly: NaN/Infinity/-Infinity as the SDK writes them, and
    integers of any size as integers."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _maybe_huge(value) else value


def _maybe_huge(value: Any) -> bool:
    """Whether a value orjson parsed holds a float that may be an integer past 64 bits."""
    kind = type(value)
    if kind is float:
        return not -_HUGE < value < _HUGE
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return False
    for item in items:
        kind = type(item)
        if kind is float:
            if not -_HUGE < item < _HUGE:
                return True
        elif (kind is dict or kind is list) and _maybe_huge(item):
            return True
    return False


def loads_object(text: str | bytes) -> dict[str, Any] | None:
    """Parse a JSON object line; None when the text is not a JSON object."""
    try:
        value = loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def dumps(value: Any) -> str:
    """Serialize, writing non-finite floats as NaN/Infinity the way the SDK does."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, default=str)
