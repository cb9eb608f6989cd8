"""History rows as the read path handles them, and their JSON renderings.

A row from the live tier keeps the text the SDK sent (returned verbatim where the protocol
wants a JSON string); a row from a Parquet export starts as a dict. Either is parsed or
rendered only when a caller needs the other form.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from itertools import repeat
from typing import Any

import orjson

from tracklet.storage.history.jsonline import loads


class Row:
    """One history row: its step, and its text and/or parsed object."""

    __slots__ = ("_data", "_text", "step")

    def __init__(self, step: int, text: str | None = None,
                 data: dict[str, Any] | None = None) -> None:
        assert text is not None or data is not None
        self.step = step
        self._text = text
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        """The row as an object (parsed on first use; ``{}`` for text that is no object)."""
        if self._data is None:
            try:
                value = loads(self._text or "")
            except ValueError:
                value = None
            self._data = value if isinstance(value, dict) else {}
        return self._data

    @property
    def text(self) -> str:
        """The row as JSON text with the SDK's extended tokens (NaN, Infinity)."""
        if self._text is None:
            self._text = dumps_row(self.data)
        return self._text

    def __repr__(self) -> str:
        return f"Row({self.step}, {self.text[:60]!r})"


def dumps_row(value: Any) -> str:
    """JSON text as the SDK writes it: non-finite floats as NaN/Infinity, big ints exact."""
    if not _has_special(value):
        try:
            return orjson.dumps(value).decode()
        except TypeError:
            pass
    return json.dumps(value, separators=(",", ":"), allow_nan=True, default=str)


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    For JSON (not JSONString) GraphQL fields: the response must be strict JSON because the
    SDK's Go core parses it with encoding/json. W&B sends these strings too.
    """
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def _has_special(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_special(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_special(v) for v in value)
    return False


def same_json(a: Any, b: Any) -> bool:
    """Equal as logged JSON values: numbers by value (1 == 1.0, NaN == NaN), bools only to
    bools, containers element by element."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_json(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b
    return type(a) is type(b) and bool(a == b)


def zip_records(keys: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """``[{keys[0]: columns[0][i], keys[1]: columns[1][i], ...} for each i]`` (the columns
    have equal lengths). A history page asks for one or two keys, and a dict display with
    the keys spelled out builds those several times faster than ``dict(zip(...))``."""
    if len(keys) == 1:
        (k,), (a,) = keys, columns
        return [{k: x} for x in a]
    if len(keys) == 2:
        (k0, k1), (a, b) = keys, columns
        return [{k0: x, k1: y} for x, y in zip(a, b, strict=True)]
    if len(keys) == 3:
        (k0, k1, k2), (a, b, c) = keys, columns
        return [{k0: x, k1: y, k2: z} for x, y, z in zip(a, b, c, strict=True)]
    return list(map(dict, map(zip, repeat(keys), zip(*columns, strict=True))))


def is_number(value: Any) -> bool:
    """A JSON number (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """The W&B-style type name of a logged value (``number``, ``string``, media ``_type``...)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        kind = value.get("_type")
        return kind if isinstance(kind, str) else "map"
    return "unknown"
