"""A plain-Python model of what ``GET /api/v1/runs/series`` answers, to check it against.

Given the rows a run logged (in the order they were sent) and the answer's axis (``start``,
``bucketWidth``), :func:`expected_series` reduces one key the slow, obvious way:

* A row is a dict whose ``_step`` is a whole number that fits in 64 bits (``7.0`` is step
  7); other rows are not on the step axis. Every row counts, two rows at one step too,
  in step order and at one step in the order they were sent.
* Rows sent after an exported run was resumed (``resumed``) replace the earlier rows of
  their steps whole, even where they lack the key: a live row hides the exported rows of its
  step. They stay apart from the export when it is compacted again, so this holds however
  often the run was exported.
* Only numbers count: ints and floats, NaN and ±Infinity included; bools, strings, None,
  dicts and lists are skipped as if the key were missing.
* Per bucket ``(step - start) // width``: ``count`` of values, ``firstStep`` and ``lastStep``
  holding one, ``last`` value (NaN if the last one is NaN), and ``min``/``max`` over the
  values that are not NaN (±Infinity compete like any number), NaN when every value of the
  bucket is NaN.

Values keep their Python type here; the server may answer an integer as a float where the
same key holds floats elsewhere, so compare with :func:`same_value`, which equates equal
numbers and NaN with NaN. JSON answers spell non-finite floats as strings: read them back
with :func:`from_json`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = ("bucket", "count", "firstStep", "lastStep", "min", "max", "last")
"""The columns of one key's series, in the answer's order."""

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def is_number(value: Any) -> bool:
    """Whether a logged value is charted: an int or float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _step(row: Mapping[str, Any]) -> int | None:
    step = row.get("_step")
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        return None
    if isinstance(step, float) and not step.is_integer():
        return None
    whole = int(step)
    return whole if -(2**63) <= whole < 2**63 else None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def expected_series(rows: Iterable[Mapping[str, Any]], key: str, start: int, width: int,
                    resumed: Iterable[Mapping[str, Any]] = ()) -> dict[str, list[Any]]:
    """The series of ``key`` over buckets of ``width`` steps from ``start`` of a run that
    logged ``rows`` and, after it was exported and resumed, ``resumed``: one list per column
    of :data:`COLUMNS`, one entry per bucket holding a value, buckets in order."""
    later = [(step, row) for row in resumed if (step := _step(row)) is not None]
    hidden = {step for step, _ in later}
    stepped = [(step, row) for row in rows
               if (step := _step(row)) is not None and step not in hidden]
    # A stable sort: at one step, earlier rows first and resumed rows after them.
    by_step = sorted(stepped + later, key=lambda pair: pair[0])
    groups: dict[int, list[tuple[int, Any]]] = {}
    for step, row in by_step:
        value = row.get(key)
        if is_number(value):
            groups.setdefault((step - start) // width, []).append((step, value))
    out: dict[str, list[Any]] = {column: [] for column in COLUMNS}
    for bucket in sorted(groups):
        points = groups[bucket]
        compared = [v for _, v in points if not _is_nan(v)]
        out["bucket"].append(bucket)
        out["count"].append(len(points))
        out["firstStep"].append(points[0][0])
        out["lastStep"].append(points[-1][0])
        out["min"].append(min(compared) if compared else math.nan)
        out["max"].append(max(compared) if compared else math.nan)
        out["last"].append(points[-1][1])
    return out


def from_json(value: Any) -> Any:
    """A value of a JSON answer as a number: ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
    become floats, anything else is returned as it is."""
    if isinstance(value, str):
        return _NON_FINITE[value]
    return value


def same_value(a: Any, b: Any) -> bool:
    """Whether two values of a series agree: NaN equals NaN, numbers compare by value (``2 ==
    2.0``), and a bool never equals a number."""
    if _is_nan(a) and _is_nan(b):
        return True
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def mismatches(got: Mapping[str, list[Any]], want: Mapping[str, list[Any]],
               ) -> list[tuple[str, int, Any, Any]]:
    """``(column, index, got, want)`` for every entry where a series (JSON spellings of
    non-finite floats allowed) differs from :func:`expected_series`; a column of the wrong
    length counts as one mismatch at index -1."""
    bad: list[tuple[str, int, Any, Any]] = []
    for column in COLUMNS:
        values = [from_json(v) for v in got[column]]
        if len(values) != len(want[column]):
            bad.append((column, -1, len(values), len(want[column])))
            continue
        bad.extend((column, i, g, w) for i, (g, w) in enumerate(zip(values, want[column],
                                                                    strict=True))
                   if not same_value(g, w))
    return bad


def from_binary(body: bytes) -> dict[str, Any]:
    """A binary answer (``format=binary``, :mod:`tracklet.server.rest.series_binary`)
    decoded into the JSON answer's shape: the header's axis and, per run and key, one list
    per array (``bucket`` and the header's ``fields``), values as the float64 it holds."""
    import json
    import struct

    if body[:4] != b"TKS1":
        raise ValueError(f"not a binary series answer: {body[:4]!r}")
    (size,) = struct.unpack_from("<I", body, 4)
    header = json.loads(body[8:8 + size])
    offset = 8 + size + (-(8 + size) % 8)
    if (len(body) - offset) % 8:
        raise ValueError("the values are not whole float64s")
    values = struct.unpack_from(f"<{(len(body) - offset) // 8}d", body, offset)
    at = 0
    runs = []
    for entry in header["runs"]:
        out: dict[str, dict[str, list[Any]]] = {}
        for key, n in entry["series"].items():
            arrays: dict[str, list[Any]] = {}
            for name in ("bucket", *header["fields"]):
                arrays[name] = list(values[at:at + n])
                at += n
            out[key] = arrays
        runs.append({"run": entry["run"], "series": out})
    if at != len(values):
        raise ValueError(f"{len(values) - at} values past the header's series")
    return {**{k: v for k, v in header.items() if k != "runs"}, "runs": runs}


def as_float64(series: Mapping[str, list[Any]]) -> dict[str, list[Any]]:
    """An expected series (or a JSON answer's) as a float64 layout holds it: every value a
    float (JSON's ``"NaN"``/``"Infinity"`` spellings read as numbers)."""
    return {column: [float(from_json(v)) for v in values] for column, values in series.items()}


def same_series(a: Mapping[str, list[Any]], b: Mapping[str, list[Any]]) -> bool:
    """Whether two series hold the same arrays, entry by entry by :func:`same_value` (NaN
    equals NaN)."""
    return a.keys() == b.keys() and all(
        len(a[k]) == len(b[k]) and all(same_value(x, y) for x, y in zip(a[k], b[k], strict=True))
        for k in a)
