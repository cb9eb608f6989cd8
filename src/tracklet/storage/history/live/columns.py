"""A run's live rows as numeric columns, for chart series.

Live rows are JSON text in the metadata DB. A chart over running runs reads all of them, so
this reads them in bounded batches of whole chunks (:func:`.read.iter_batches_as`), decodes
only the wanted keys of each chunk's lines with one call (:class:`.projection.ChunkProjection`)
and turns numbers into numpy arrays batch by batch. The values are exactly those of a
row-by-row read: numbers only (bools, strings, nulls and nested values are not numbers),
integers kept as integers, a key mixing integers and floats kept as the Python numbers that
were logged, rows ordered by step and then line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import Connection

from tracklet.storage.history.live.chunks import INT64_MAX
from tracklet.storage.history.live.projection import ChunkProjection
from tracklet.storage.history.live.read import iter_batches_as, iter_batches_of_runs_as

BATCH_ROWS = 20_000
_NUMBER = (int, float)


class LiveColumns:
    """Per key, the (steps, values) of the live rows holding a number under it, in
    (step, line) order; ``steps`` are the distinct steps of every live row read."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(dict.fromkeys(keys))
        self._parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in keys}
        self._steps: list[np.ndarray] = []

    def add_batch(self, steps: np.ndarray, columns: list[list[Any]]) -> None:
        """Account for rows already in (step, line) order: their values of each key of
        :attr:`keys` (:meth:`.ChunkProjection.columns`)."""
        self._steps.append(steps)
        # A key a row does not hold comes as MISSING, which is no number (like None).
        for key, values in zip(self.keys, columns, strict=True):
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


def read(conn: Connection, run_id: int, keys: Sequence[str], lo: int | None,
         hi: int | None) -> LiveColumns:
    """The live rows of ``run_id`` with ``lo <= step <= hi`` as columns of ``keys``."""
    cols = LiveColumns(keys)
    project = ChunkProjection(cols.keys)
    upper = None if hi is None or hi >= INT64_MAX else hi + 1
    for steps, _lines, rows in iter_batches_as(project.rows, conn, run_id, lo, upper,
                                               BATCH_ROWS):
        cols.add_batch(steps, project.columns(rows))
    return cols


def read_runs(conn: Connection, run_ids: Sequence[int], keys: Sequence[str], lo: int | None,
              hi: int | None) -> dict[int, LiveColumns]:
    """:func:`read` of many runs at once (a few statements for all of them); runs without
    a live row in range are left out."""
    out: dict[int, LiveColumns] = {}
    project = ChunkProjection(list(dict.fromkeys(keys)))
    upper = None if hi is None or hi >= INT64_MAX else hi + 1
    for run_id, steps, _lines, rows in iter_batches_of_runs_as(project.rows, conn, run_ids,
                                                                lo, upper, BATCH_ROWS):
        cols = out.get(run_id)
        if cols is None:
            cols = out[run_id] = LiveColumns(keys)
        cols.add_batch(steps, project.columns(rows))
    return out
