"""Per-key type counts over live history rows (what ``historyKeys`` reports for a running
run). Type names match :func:`..rows.type_name`.

Values are counted by their Python type and only dicts (media, tables: named by their
``_type``) are looked at one by one, which keeps this a few microseconds per row.
"""

from __future__ import annotations

from collections import Counter

import orjson
from sqlalchemy import Connection

from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live.read import stepped_lines
from tracklet.storage.history.rows import type_name

_NAMES: dict[type, str] = {type(None): "nil", bool: "boolean", int: "number", float: "number",
                           str: "string", list: "list"}


def count_types(conn: Connection, run_id: int, after: int,
                upto: int) -> dict[str, Counter[str]]:
    """Type counts per key over stepped live rows with ``after < line <= upto``."""
    pairs: Counter[tuple[str, type]] = Counter()
    special: dict[str, Counter[str]] = {}
    for text in stepped_lines(conn, run_id, after + 1, upto):
        try:
            row = orjson.loads(text)
        except orjson.JSONDecodeError:
            row = loads_object(text)  # NaN, Infinity, integers beyond 64 bits
        if type(row) is not dict:
            continue
        pairs.update(zip(row, map(type, row.values()), strict=True))
        for key, value in row.items():
            if type(value) is dict:
                special.setdefault(key, Counter())[type_name(value)] += 1
    counts: dict[str, Counter[str]] = {}
    for (key, kind), n in pairs.items():
        name = _NAMES.get(kind)
        if name is None and kind is not dict:
            name = "unknown"
        if name is not None:
            counts.setdefault(key, Counter())[name] += n
    for key, named in special.items():
        counts.setdefault(key, Counter()).update(named)
    return counts
