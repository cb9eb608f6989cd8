"""Per-key type counts over live history rows, counted by the database where it can.

Rows that are strict JSON are aggregated in SQL (SQLite ``json_each``, PostgreSQL
``jsonb_each``), which is an order of magnitude faster than parsing them in Python; the
rare rows with the SDK's extended tokens (NaN, Infinity) are parsed here instead. Type
names match :func:`.parquet.type_name`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.parquet import type_name

_SQLITE = text("""
SELECT je.key,
  CASE je.type WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number'
    WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean'
    WHEN 'null' THEN 'nil' WHEN 'array' THEN 'list'
    ELSE coalesce(CASE WHEN json_type(je.value, '$._type') = 'text'
                       THEN json_extract(je.value, '$._type') END, 'map') END,
  count(*)
FROM history JOIN json_each(history.data) AS je
WHERE history.run_id = :run AND history.line > :after AND history.line <= :upto
  AND history.step IS NOT NULL AND json_valid(history.data)
GROUP BY 1, 2
""")
_SQLITE_REST = text("""
SELECT data FROM history
WHERE run_id = :run AND line > :after AND line <= :upto AND step IS NOT NULL
  AND NOT json_valid(data)
""")

# Text that jsonb would refuse (or that needs Python's reading) goes the slow way.
_PG_SPECIAL = r"NaN|Infinity|\\u0000"
_PG = text("""
SELECT e.key,
  CASE jsonb_typeof(e.value) WHEN 'number' THEN 'number' WHEN 'string' THEN 'string'
    WHEN 'boolean' THEN 'boolean' WHEN 'null' THEN 'nil' WHEN 'array' THEN 'list'
    ELSE coalesce(CASE WHEN jsonb_typeof(e.value -> '_type') = 'string'
                       THEN e.value ->> '_type' END, 'map') END,
  count(*)
FROM history, jsonb_each(CAST(history.data AS jsonb)) AS e
WHERE history.run_id = :run AND history.line > :after AND history.line <= :upto
  AND history.step IS NOT NULL AND history.data !~ :special
GROUP BY 1, 2
""")
_PG_REST = text("""
SELECT data FROM history
WHERE run_id = :run AND line > :after AND line <= :upto AND step IS NOT NULL
  AND history.data ~ :special
""")
_ALL = text("""
SELECT data FROM history
WHERE run_id = :run AND line > :after AND line <= :upto AND step IS NOT NULL
""")


def count_types(conn: Connection, run_id: int, after: int,
                upto: int) -> dict[str, Counter[str]]:
    """Type counts per key over stepped live rows with ``after < line <= upto``."""
    params: dict[str, Any] = {"run": run_id, "after": after, "upto": upto}
    counts: dict[str, Counter[str]] = {}
    dialect = conn.dialect.name
    if dialect == "sqlite":
        fast, rest = _SQLITE, _SQLITE_REST
    elif dialect == "postgresql":
        fast, rest = _PG, _PG_REST
        params["special"] = _PG_SPECIAL
    else:
        fast, rest = None, _ALL
    if fast is not None:
        try:
            with conn.begin_nested():
                aggregated = conn.execute(fast, params).all()
        except DBAPIError:
            aggregated, rest = [], _ALL
        for key, kind, n in aggregated:
            counts.setdefault(str(key), Counter())[str(kind)] += int(n)
    for (data,) in conn.execute(rest, params):
        row = loads_object(data)
        for key, value in (row or {}).items():
            counts.setdefault(key, Counter())[type_name(value)] += 1
    return counts
