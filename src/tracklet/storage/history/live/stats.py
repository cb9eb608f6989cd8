"""Per-key type counts and last values over live history rows (what ``historyKeys`` reports
for a running run). Type names match :func:`..rows.type_name`; a key logged as a plain dict
is also counted as its dotted nested keys (``{"d": {"k": 1}}`` counts ``d`` and ``d.k``).

Values are counted by their Python type and only dicts (media, tables: named by their
``_type``; plain dicts: walked) are looked at one by one, which keeps this a few
microseconds per row.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection

from tracklet.storage.history.export.key_stats import is_scalar
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live.read import stepped_lines
from tracklet.storage.history.rows import type_name

_NAMES: dict[type, str] = {type(None): "nil", bool: "boolean", int: "number", float: "number",
                           str: "string", list: "list"}


@dataclass
class LiveKeys:
    """What live rows say about each key: values per type, and the last value logged when it
    is a scalar (a later non-scalar value removes it)."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)
    #: Keys whose last value is not a scalar: an earlier one no longer counts.
    cleared: set[str] = field(default_factory=set)


def count_types(conn: Connection, run_id: int, after: int, upto: int) -> LiveKeys:
    """Type counts and last values per key over stepped live rows with
    ``after < line <= upto``, in line order."""
    pairs: Counter[tuple[str, type]] = Counter()
    special: dict[str, Counter[str]] = {}
    last: dict[str, Any] = {}
    for text in stepped_lines(conn, run_id, after + 1, upto):
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError:
            row = loads_object(text)  # NaN, Infinity, integers beyond 64 bits
        if type(row) is not dict:
            continue
        pairs.update(zip(row, map(type, row.values()), strict=True))
        last.update(row)
        for key, value in row.items():
            if type(value) is dict:
                _nested(key, value, special, last)
    counts: dict[str, Counter[str]] = {}
    for (key, kind), n in pairs.items():
        name = _NAMES.get(kind)
        if name is None and kind is not dict:
            name = "unknown"
        if name is not None:
            counts.setdefault(key, Counter())[name] += n
    for key, named in special.items():
        counts.setdefault(key, Counter()).update(named)
    scalars = {k: v for k, v in last.items() if is_scalar(v)}
    return LiveKeys(counts, scalars, set(last) - set(scalars))


def _nested(key: str, value: dict[str, Any], special: dict[str, Counter[str]],
            last: dict[str, Any]) -> None:
    """Count a dict value by its type name; a plain dict's items as dotted keys too."""
    name = type_name(value)
    special.setdefault(key, Counter())[name] += 1
    if name != "map":
        return
    for child, item in value.items():
        path = f"{key}.{child}"
        last[path] = item
        if type(item) is dict:
            _nested(path, item, special, last)
        else:
            kind = _NAMES.get(type(item), "unknown")
            special.setdefault(path, Counter())[kind] += 1
