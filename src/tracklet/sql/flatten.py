"""JSON documents (configs, summaries, system-metric lines) as typed Arrow columns.

A document's keys become columns named ``<prefix><key>``, nested objects flattened with
dots (``optimizer.lr``). A column's type follows its values the way the history endpoint
types a key (:func:`tracklet.storage.history.read.columns.output_type`): ``BIGINT`` when
every value is a 64-bit integer, ``DOUBLE`` for any mix of numbers, ``BOOLEAN``, ``VARCHAR``,
and anything else (lists, mixed kinds) as the value's JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson
import pyarrow as pa

from tracklet.storage.history.read.columns import output_type, value_kinds
from tracklet.storage.history.rows import json_safe

#: Flattened columns kept per document kind (the most frequent keys win); a wider config
#: is still whole in its JSON column.
MAX_COLUMNS = 1000


def strict_json(value: Any) -> str:
    """``value`` as strict JSON text (non-finite floats as the strings W&B sends)."""
    safe = json_safe(value)
    try:
        return orjson.dumps(safe).decode()
    except TypeError:  # an integer past 64 bits: the standard library writes it exactly
        return json.dumps(safe, separators=(",", ":"), default=str)


def flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``doc``'s leaves keyed by their dotted paths (an empty object stays a leaf)."""
    out: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def typed_columns(docs: list[dict[str, Any]], prefix: str,
                  exclude: Iterable[str] = ()) -> dict[str, pa.Array]:
    """One typed column per flattened key of ``docs`` (one document per row), named
    ``prefix + key``; at most :data:`MAX_COLUMNS`, the keys held by most rows first."""
    flat = [flatten(d) for d in docs]
    counts: dict[str, int] = {}
    for row in flat:
        for key in row:
            counts[key] = counts.get(key, 0) + 1
    skip = set(exclude)
    keys = [k for k in counts if k not in skip]
    if len(keys) > MAX_COLUMNS:
        keys = sorted(keys, key=lambda k: -counts[k])[:MAX_COLUMNS]
    out: dict[str, pa.Array] = {}
    for key in sorted(keys):
        values = [row.get(key) for row in flat]
        out[prefix + key] = typed_array(values)
    return out


def typed_array(values: list[Any]) -> pa.Array:
    """``values`` (None for missing) as one Arrow array of their common type."""
    kind, as_json = output_type(value_kinds(values))
    if as_json:
        return pa.array([None if v is None else strict_json(v) for v in values], pa.string())
    if pa.types.is_floating(kind):
        return pa.array([None if v is None else float(v) for v in values], pa.float64())
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    return pa.array(values, kind)
