"""A plain-Python statement of the run filter and order semantics, used as a test oracle.

It restates run_filters.py's documented rules independently of SQL: tests compare what the
database returns with what these functions select and how they sort. A run is a dict with
``name``, ``display_name``, ``state``, ``group``, ``job_type``, ``tags``, ``config`` (plain
values, without W&B's ``{"value": ...}`` wrapper) and ``summary``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

MISSING = object()


def nan_to_null(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def lookup(run: dict[str, Any], key: str) -> Any:
    plain = {"name": "name", "displayName": "display_name", "state": "state", "group": "group",
             "jobType": "job_type", "display_name": "display_name", "job_type": "job_type",
             "username": "username", "createdAt": "created_at", "heartbeatAt": "heartbeat_at"}
    if key in plain:
        v = run.get(plain[key])
        return MISSING if v is None else v
    prefix, _, rest = key.partition(".")
    doc = run["config"] if prefix == "config" else run["summary"]
    parts = rest.split(".")
    if prefix == "config" and len(parts) > 1 and parts[1] == "value":
        del parts[1]  # config.<key>.value is W&B's spelling of config.<key>
    value: Any = doc
    for part in parts:
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return nan_to_null(value)


def is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def eq(v: Any, x: Any, tags: bool = False) -> bool:
    if tags:
        return x in v if isinstance(x, str) else (v == x if isinstance(x, list) else False)
    if x is None:
        return v is MISSING or v is None
    if isinstance(x, bool):
        return isinstance(v, bool) and v == x
    if is_num(x):
        return is_num(v) and v == x
    return isinstance(v, str) and v == x


def cmp(v: Any, op: str, x: Any) -> bool:
    if x is None:
        return eq(v, None) if op in ("$gte", "$lte") else False
    same = (is_num(v) and is_num(x)) or (isinstance(v, str) and isinstance(x, str)) or (
        isinstance(v, bool) and isinstance(x, bool))
    if not same:
        return False
    return {"$gt": v > x, "$gte": v >= x, "$lt": v < x, "$lte": v <= x}[op]


def instant(value: Any) -> Any:
    """Dates as Unix seconds: ISO-8601 text (UTC unless it says otherwise) or a number."""
    if isinstance(value, str):
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.timezone.utc)
        return when.timestamp()
    if isinstance(value, list):
        return [instant(v) for v in value]
    if isinstance(value, dict):
        return {k: v if k in ("$exists", "$regex", "$options") else instant(v)
                for k, v in value.items()}
    return value


def match_field(run: dict[str, Any], key: str, cond: Any) -> bool:
    if key in ("createdAt", "heartbeatAt"):
        cond = instant(cond)
    tags = key == "tags"
    v = run["tags"] if tags else lookup(run, key)
    if not (isinstance(cond, dict) and any(k.startswith("$") for k in cond)):
        return eq(v, cond, tags)
    ok = True
    for op, arg in cond.items():
        if op == "$eq":
            ok &= eq(v, arg, tags)
        elif op == "$ne":
            ok &= not eq(v, arg, tags)
        elif op == "$in":
            ok &= any(eq(v, a, tags) for a in arg)
        elif op == "$nin":
            ok &= not any(eq(v, a, tags) for a in arg)
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            ok &= cmp(v, op, arg)
        elif op == "$exists":
            ok &= (tags or v is not MISSING) == arg
        elif op == "$regex":
            flags = re.I if "i" in cond.get("$options", "") else 0
            values = v if tags else [v]
            ok &= any(isinstance(s, str) and re.search(arg, s, flags) for s in values)
        elif op == "$not":
            ok &= not match_field(run, key, arg)
    return ok


def match(run: dict[str, Any], f: dict[str, Any]) -> bool:
    for key, value in f.items():
        if key == "$and" and not all(match(run, g) for g in value):
            return False
        if key == "$or" and not any(match(run, g) for g in value):
            return False
        if key == "$nor" and any(match(run, g) for g in value):
            return False
        if not key.startswith("$") and not match_field(run, key, value):
            return False
    return True


def sort_key(run: dict[str, Any], key: str, ids: dict[str, int]) -> tuple[Any, ...]:
    v = lookup(run, key)
    if is_num(v):
        return (0, v, "", ids[run["name"]])
    if isinstance(v, str):
        return (1, 0, v, ids[run["name"]])
    if isinstance(v, bool):
        return (2, int(v), "", ids[run["name"]])
    return (3, 0, "", ids[run["name"]])


def expected_order(runs: list[dict[str, Any]], order: str,
                   ids: dict[str, int]) -> list[dict[str, Any]]:
    """``runs`` sorted as ``order`` (``+key``/``-key``) sorts them; ``ids`` break ties."""
    desc = order.startswith("-")
    key = order.lstrip("+-")
    if key in ("created_at", "createdAt"):
        return sorted(runs, key=lambda r: ids[r["name"]], reverse=desc)
    if key in ("displayName", "name", "state", "group", "jobType"):
        present = [r for r in runs if lookup(r, key) is not MISSING]
        absent = [r for r in runs if lookup(r, key) is MISSING]
        return (sorted(present, key=lambda r: (lookup(r, key), ids[r["name"]]), reverse=desc)
                + sorted(absent, key=lambda r: ids[r["name"]], reverse=desc))
    expected: list[dict[str, Any]] = []
    for rank in range(4):
        group = [r for r in runs if sort_key(r, key, ids)[0] == rank]
        expected += sorted(group, key=lambda r: sort_key(r, key, ids)[1:], reverse=desc)
    return expected
