"""A run's live rows as numeric columns, for chart series.

Live rows are JSON text in the metadata DB. A chart over running runs reads all of them, so
this reads them in bounded step-range batches straight from the DB driver (no per-row ORM
objects), parses each line once with orjson and pulls every wanted key out with list
comprehensions, turning numbers into numpy arrays batch by batch. The values are exactly
those of a row-by-row read: numbers only (bools, strings, nulls and nested values are not
numbers), integers kept as integers, a key mixing integers and floats kept as the Python
numbers that were logged, rows ordered by step and then line.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection

from tracklet.storage.history.jsonline import loads

BATCH_ROWS = 20_000
_PLACEHOLDER = {"sqlite": "?", "postgresql": "%s"}
_NUMBER = (int, float)


def supported(conn: Connection) -> bool:
    """Whether the driver-level read works on this database (else use :mod:`.live`)."""
    return conn.dialect.name in _PLACEHOLDER


class LiveColumns:
    """Per key, the (steps, values) of the live rows holding a number under it, in
    (step, line) order; ``steps`` are the distinct steps of every live row read."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self._parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in keys}
        self._steps: list[np.ndarray] = []

    def add_batch(self, steps: np.ndarray, texts: list[str]) -> None:
        """Account for rows already in (step, line) order."""
        self._steps.append(steps)
        objects = [_object(t) for t in texts]
        for key in self.keys:
            values = list(map(dict.get, objects, repeat(key)))
            part = _numbers(steps, values)
            if part is not None:
                self._parts[key].append(part)

    def steps(self) -> np.ndarray:
        """The distinct steps of every row read, sorted."""
        if not self._steps:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.concatenate(self._steps))

    def column(self, key: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(steps, values) of ``key``: float64 when every value is a float, int64 when every
        value is an integer that fits, else an object array of the logged numbers."""
        parts = self._parts[key]
        if not parts:
            return None
        steps = np.concatenate([p[0] for p in parts])
        kinds = {p[1].dtype for p in parts}
        if len(kinds) == 1 and kinds <= {np.dtype(np.float64), np.dtype(np.int64)}:
            return steps, np.concatenate([p[1] for p in parts])
        return steps, np.concatenate([p[1].astype(object) for p in parts])


_EMPTY: dict[str, Any] = {}


def _object(text: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = loads(text)  # NaN, Infinity, integers beyond 64 bits
        except ValueError:
            return _EMPTY
    return value if type(value) is dict else _EMPTY


def _numbers(steps: np.ndarray, values: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    kinds = set(map(type, values))
    if kinds == {float}:
        return steps, np.array(values, dtype=np.float64)
    if kinds == {int}:
        return steps, _ints(values)
    if not kinds & {int, float}:
        return None
    keep = [i for i, v in enumerate(values) if type(v) in _NUMBER]
    numbers = [values[i] for i in keep]
    kept = steps[np.array(keep, dtype=np.int64)]
    if kinds & {int, float} == {float}:
        return kept, np.array(numbers, dtype=np.float64)
    if kinds & {int, float} == {int}:
        return kept, _ints(numbers)
    out = np.empty(len(numbers), dtype=object)
    out[:] = numbers
    return kept, out


def _ints(values: list[int]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out


def read(conn: Connection, run_id: int, keys: Sequence[str], lo: int | None, hi: int | None,
         stats: tuple[int, int | None, int | None]) -> LiveColumns:
    """The live rows of ``run_id`` with ``lo <= step <= hi`` as columns of ``keys``.

    ``stats`` is the run's (live row count, smallest step, largest step), used to cut the
    step range into batches of about :data:`BATCH_ROWS` rows each.
    """
    cols = LiveColumns(keys)
    for steps, texts in _batches(conn, run_id, lo, hi, stats):
        cols.add_batch(steps, texts)
    return cols


def _batches(conn: Connection, run_id: int, lo: int | None, hi: int | None,
             stats: tuple[int, int | None, int | None]) -> Iterator[tuple[np.ndarray, list[str]]]:
    count, first, last = stats
    if count == 0 or first is None or last is None:
        return
    start = first if lo is None else max(lo, first)
    stop = last if hi is None else min(hi, last)
    if start > stop:
        return
    # Steps are usually dense, so a range of the span proportional to the batch size holds
    # about that many rows (every query walks the (run_id, step) index).
    width = max(1, (last - first + 1) * BATCH_ROWS // count)
    p = _PLACEHOLDER[conn.dialect.name]
    sql = (f"SELECT step, line, data FROM history WHERE run_id = {p} "
           f"AND step >= {p} AND step <= {p}")
    cursor = conn.connection.cursor()
    try:
        a = start
        while a <= stop:
            b = min(stop, a + width - 1)
            cursor.execute(sql, (run_id, a, b))
            rows = cursor.fetchall()
            a = b + 1
            if not rows:
                continue
            n = len(rows)
            steps = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
            lines = np.fromiter((r[1] for r in rows), dtype=np.int64, count=n)
            texts = [r[2] for r in rows]
            if n > 1 and not (np.all(steps[1:] > steps[:-1])):
                order = np.lexsort((lines, steps))
                steps = steps[order]
                texts = [texts[i] for i in order.tolist()]
            yield steps, texts
    finally:
        cursor.close()
