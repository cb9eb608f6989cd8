"""Strict-JSON shadows of the config and summary columns, so SQL can filter on them.

The SDK writes extended JSON (``NaN``, ``Infinity``, 64-bit and larger integers) and the
``runs.config`` / ``runs.summary`` columns keep that text verbatim. SQLite's ``json_extract``
and PostgreSQL's ``::jsonb`` both reject those tokens, and one such run would make every
filtered listing of its project fail. So whenever one of those columns is written, its
shadow (``config_strict`` / ``summary_strict``) is written too: NULL when the text already is
strict JSON (the common case, costing nothing), otherwise a strict rendering in which
non-finite floats become ``null`` and unparseable text becomes ``{}``. Queries read
``COALESCE(shadow, column)``.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

SHADOWED = {"config": "config_strict", "summary": "summary_strict"}


def strict_json_text(text: str | None) -> str | None:
    """None when ``text`` is strict JSON already; otherwise a strict JSON rendering of it."""
    if text is None:
        return None
    try:
        orjson.loads(text)
        return None
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(text)
    except ValueError:
        return "{}"
    return json.dumps(_finite(value), ensure_ascii=True, allow_nan=False,
                      separators=(",", ":"))


def with_strict_shadows(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` plus the shadow column of every shadowed column it sets."""
    for column, shadow in SHADOWED.items():
        if column in values:
            values[shadow] = strict_json_text(values[column])
    return values


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
