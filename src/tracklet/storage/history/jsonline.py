"""Lenient parsing of the SDK's extended JSON lines (NaN, Infinity, 64-bit ints)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(text: str | bytes) -> Any:
    """Parse one JSON document, accepting NaN/Infinity/-Infinity as the SDK writes them."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


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
