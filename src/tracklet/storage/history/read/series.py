"""Chart series: a run's metrics reduced to per-bucket min, max and last over the step axis.

A chart of many runs cannot draw every point, but it must not hide one either: each bucket
of the x axis keeps the smallest and largest value logged in it (so every spike shows) and
the last one (what the line passes through), with how many values it holds and the first
and last step that holds one. Nothing is sampled away.

Both tiers are read column-wise: an export's Parquet columns go straight into numpy
arrays and buckets are reduced with ``reduceat`` over the sorted steps; live rows (few once
a run has ended) are parsed once into the same arrays. A live row replaces the exported row
with the same ``_step``, as in :mod:`.tiers`.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracklet.errors import InvalidInput
from tracklet.storage.history.export.format import STEP
from tracklet.storage.history.live import columns as live_columns
from tracklet.storage.history.read.tiers import RunHistory, begin_snapshot, many_histories

if TYPE_CHECKING:
    from tracklet.storage.facade import Storage

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Axis:
    """Buckets of the step axis: bucket ``i`` holds steps ``start + i*width`` up to (not
    including) ``start + (i+1)*width``."""

    start: int
    width: int
    buckets: int

    @classmethod
    def spanning(cls, first: int | None, last: int | None, buckets: int) -> Axis:
        """At most ``buckets`` equal buckets covering ``first..last`` (inclusive)."""
        if first is None or last is None:
            return cls(0, 1, 0)
        span = last - first + 1
        width = max(1, -(-span // buckets))
        return cls(first, width, -(-span // width))


@dataclass
class Series:
    """One key's reduced series: parallel arrays, one entry per non-empty bucket."""

    bucket: np.ndarray
    count: np.ndarray
    first_step: np.ndarray
    last_step: np.ndarray
    min: np.ndarray
    max: np.ndarray
    last: np.ndarray

    def to_json(self) -> dict[str, Any]:
        """Columns for a strict JSON answer (non-finite floats as ``"NaN"``/``"Infinity"``);
        numpy arrays where orjson can write them directly (``OPT_SERIALIZE_NUMPY``)."""
        return {"bucket": self.bucket, "count": self.count, "firstStep": self.first_step,
                "lastStep": self.last_step, "min": _strict(self.min),
                "max": _strict(self.max), "last": _strict(self.last)}


def _strict(values: np.ndarray) -> np.ndarray | list[Any]:
    if values.dtype == np.int64 or (values.dtype == np.float64 and np.isfinite(values).all()):
        return values
    out: list[Any] = []
    for v in values.tolist():
        if isinstance(v, float) and not math.isfinite(v):
            v = "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        elif type(v) is int and not _INT64_MIN <= v <= _INT64_MAX:
            v = float(v)  # a chart's number is a double; JSON writers stop at 64 bits
        out.append(v)
    return out


def _numeric(array: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray] | None:
    """(validity mask, values) of a numeric Parquet column; None for other types."""
    t = array.type
    if pa.types.is_int64(t) or pa.types.is_int32(t) or pa.types.is_floating(t):
        dtype = np.float64 if pa.types.is_floating(t) else np.int64
        if array.null_count == 0:
            values = array.to_numpy().astype(dtype, copy=False)
            return np.ones(values.size, dtype=bool), values
        valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
        values = pc.fill_null(array, 0).to_numpy(zero_copy_only=False).astype(dtype, copy=False)
        return valid, values
    if pa.types.is_uint64(t):
        valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
        values = np.array([v if v is not None else 0 for v in array.to_pylist()], dtype=object)
        return valid, values
    return None


def _python_numbers(array: pa.ChunkedArray, as_json: bool) -> tuple[np.ndarray, np.ndarray]:
    """(mask, values) for a column of mixed or JSON-encoded values: numbers only."""
    from tracklet.storage.history.jsonline import loads

    raw = array.to_pylist()
    valid = np.zeros(len(raw), dtype=bool)
    values = np.zeros(len(raw), dtype=object)
    for i, v in enumerate(raw):
        if as_json and isinstance(v, str):
            try:
                v = loads(v)
            except ValueError:
                continue
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            valid[i] = True
            values[i] = v
    return valid, values


class _Columns:
    """Steps and values of each wanted key, gathered from both tiers."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in keys}

    def add(self, key: str, steps: np.ndarray, values: np.ndarray) -> None:
        if steps.size:
            self.parts[key].append((steps, values))


def _read_exports(view: RunHistory, keys: Sequence[str], lo: int | None, hi: int | None,
                  cols: _Columns, shadowed: np.ndarray | None) -> None:
    for export in view.exports:
        if export.min_step is None or export.max_step is None:
            continue
        if (hi is not None and export.min_step > hi) or (lo is not None and export.max_step < lo):
            continue
        reader = view.file(export)
        present = [k for k in keys if k in set(reader.keys)]
        if not present:
            continue
        table = reader.file.read(columns=[STEP, *present], use_threads=False)
        steps = table.column(STEP).to_numpy()
        keep: np.ndarray | None = None
        if lo is not None or hi is not None:
            keep = np.ones(steps.size, dtype=bool)
            if lo is not None:
                keep &= steps >= lo
            if hi is not None:
                keep &= steps <= hi
        if shadowed is not None and shadowed.size:
            outside = ~np.isin(steps, shadowed)
            keep = outside if keep is None else keep & outside
        for key in present:
            column = table.column(key)
            numeric = None if key in reader.json_keys else _numeric(column)
            valid, values = numeric or _python_numbers(column, key in reader.json_keys)
            mask = valid if keep is None else valid & keep
            if mask.all():
                cols.add(key, steps, values)
            else:
                cols.add(key, steps[mask], values[mask])


def _as_array(values: list[Any]) -> np.ndarray:
    if all(type(v) is float for v in values):
        return np.array(values, dtype=np.float64)
    if all(type(v) is int and _INT64_MIN <= v <= _INT64_MAX for v in values):
        return np.array(values, dtype=np.int64)
    return np.array(values, dtype=object)


def _merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    if len(parts) == 1:
        return parts[0]
    steps = np.concatenate([p[0] for p in parts])
    kinds = {p[1].dtype for p in parts}
    if np.dtype(object) in kinds or kinds == {np.dtype(np.int64)}:
        values = np.concatenate([p[1].astype(object) if kinds != {np.dtype(np.int64)}
                                 else p[1] for p in parts])
    else:
        values = np.concatenate([p[1].astype(np.float64) for p in parts])
    # Exports come first, live rows after: a stable sort keeps a live row last at its step.
    order = np.argsort(steps, kind="stable")
    return steps[order], values[order]


def reduce_series(steps: np.ndarray, values: np.ndarray, axis: Axis) -> Series:
    """Per-bucket count, first/last step, min, max and last of step-sorted ``values``."""
    if steps.size == 0:
        empty = np.empty(0, dtype=np.int64)
        return Series(empty, empty, empty, empty, empty, empty, empty)
    buckets = (steps - axis.start) // axis.width
    starts = np.flatnonzero(np.concatenate(([True], buckets[1:] != buckets[:-1])))
    ends = np.append(starts[1:], steps.size) - 1
    if values.dtype == np.float64:
        lows = np.fmin.reduceat(values, starts)
        highs = np.fmax.reduceat(values, starts)
    elif values.dtype == np.int64:
        lows = np.minimum.reduceat(values, starts)
        highs = np.maximum.reduceat(values, starts)
    else:
        lows, highs = _object_extremes(values, starts, ends)
    return Series(
        bucket=buckets[starts], count=ends - starts + 1, first_step=steps[starts],
        last_step=steps[ends], min=lows, max=highs, last=values[ends])


def _object_extremes(values: np.ndarray, starts: np.ndarray,
                     ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lows = np.empty(starts.size, dtype=object)
    highs = np.empty(starts.size, dtype=object)
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        chunk = [v for v in values[a:b + 1].tolist() if not (isinstance(v, float) and v != v)]
        lows[i] = min(chunk) if chunk else math.nan
        highs[i] = max(chunk) if chunk else math.nan
    return lows, highs


def run_series(view: RunHistory, keys: Sequence[str], axis: Axis) -> dict[str, Series]:
    """Each of ``keys`` of one run reduced over ``axis`` (keys never logged: no buckets)."""
    return _live_then_exports(view, keys, axis)()


def _bounds(axis: Axis, last_step: int | None) -> tuple[int | None, int | None]:
    """The steps to read (inclusive) for ``axis``, never past ``last_step``."""
    lo = axis.start if axis.buckets else None
    hi = axis.start + axis.width * axis.buckets - 1 if axis.buckets else None
    if hi is not None and last_step is not None:
        hi = min(hi, last_step)
    return lo, hi


def _live_then_exports(view: RunHistory, keys: Sequence[str], axis: Axis,
                       last_step: int | None = None,
                       live: live_columns.LiveColumns | None = None,
                       ) -> Callable[[], dict[str, Series]]:
    """Read the live tier now (it needs the view's connection, which stays on this thread)
    unless ``live`` holds it already (read for many runs at once), and return the rest of
    the work: reading the exports and reducing, which touches no connection and may run on
    another thread. Steps past ``last_step`` are not read (the axis's last bucket may reach
    beyond a requested range)."""
    lo, hi = _bounds(axis, last_step)
    live_cols = _Columns(keys)
    shadowed: np.ndarray | None = None
    if view.has_live:
        fast = live if live is not None else live_columns.read(view.conn, view.run_id, keys,
                                                               lo, hi)
        for key in keys:
            part = fast.column(key)
            if part is not None:
                live_cols.add(key, *part)
        if view.exports and not view.live_after_exports:
            shadowed = fast.steps()  # a live row replaces the exported one at its step

    def finish() -> dict[str, Series]:
        cols = _Columns(keys)
        _read_exports(view, keys, lo, hi, cols, shadowed)
        out: dict[str, Series] = {}
        for key in keys:
            # Exports first, live rows after: _merge's stable sort lets live rows win.
            parts = cols.parts[key] + live_cols.parts[key]
            if not parts:
                out[key] = reduce_series(np.empty(0, np.int64), np.empty(0), axis)
                continue
            steps, values = _merge(parts)
            out[key] = reduce_series(steps, values, axis)
        return out

    return finish


_POOL_SIZE = max(1, min(4, os.cpu_count() or 1))


class SeriesPool:
    """The threads that decode and reduce the exports of chart series (``Storage.series_pool``),
    started on first use and stopped by :meth:`close`."""

    def __init__(self, size: int = _POOL_SIZE) -> None:
        self._size = size
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def get(self) -> ThreadPoolExecutor:
        """The pool (started now if it is not running)."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._size,
                                                thread_name_prefix="tracklet-series")
            return self._pool

    def close(self) -> None:
        """Stop the threads once their work is done, without waiting for them."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)


def chart_series(storage: Storage, run_ids: Sequence[int], keys: Sequence[str],
                 buckets: int, min_step: int | None = None,
                 max_step: int | None = None,
                 width: int | None = None) -> tuple[Axis, list[dict[str, Series]]]:
    """``keys`` of each run reduced over one shared axis spanning every run's steps (only
    those from ``min_step``, inclusive, to ``max_step``, exclusive, when given: a zoomed
    chart gets its range at full resolution), all read in one snapshot.

    With ``width`` (and ``min_step``) the axis starts at ``min_step`` exactly and its
    buckets are ``width`` steps wide, as many as reach the last step but at most
    ``buckets`` (InvalidInput beyond): the buckets line up with those of an earlier answer
    whose axis had that width, so a chart of running runs fetches only the steps after
    those it holds and appends them.

    Live rows are read on this thread (the snapshot's connection); the exports of the runs
    are decoded and reduced by ``storage.series_pool``, a few threads shared by every
    request (Parquet decoding and numpy release the GIL).
    """
    with storage.db.read() as conn:
        begin_snapshot(conn)
        views = many_histories(storage, conn, run_ids)
        try:
            firsts = [s for s in (v.first_step() for v in views) if s is not None]
            lasts = [s for s in (v.last_step() for v in views) if s is not None]
            first, last = min(firsts, default=None), max(lasts, default=None)
            if first is not None and min_step is not None:
                first = max(first, min_step)
            if last is not None and max_step is not None:
                last = min(last, max_step - 1)
            if first is not None and last is not None and first > last:
                first = last = None  # nothing logged in the range
            if width is not None and min_step is not None:
                if first is not None and last is not None:
                    first = min_step
                    axis = Axis(first, width, -(-(last - first + 1) // width))
                    if axis.buckets > buckets:
                        raise InvalidInput(
                            f"{axis.buckets} buckets of {width} steps from step {min_step} "
                            f"are more than {buckets}: ask for wider buckets")
                else:
                    axis = Axis(min_step, width, 0)
            else:
                axis = Axis.spanning(first, last, buckets)
            if not axis.buckets:  # no steps (in the range): nothing to read
                empty = reduce_series(np.empty(0, np.int64), np.empty(0), axis)
                return axis, [dict.fromkeys(keys, empty) for _ in views]
            empty_live = live_columns.LiveColumns(keys)
            pool = storage.series_pool.get()
            futures: dict[int, Future[dict[str, Series]]] = {}
            try:
                # Runs without live rows first: the pool reads their exports while this
                # thread reads the others' live rows.
                for i, view in enumerate(views):
                    if not view.has_live:
                        futures[i] = pool.submit(_live_then_exports(
                            view, keys, axis, last, empty_live))
                # Every running run's live rows in one statement, not a few per run.
                lo, hi = _bounds(axis, last)
                live = live_columns.read_runs(conn, [v.run_id for v in views if v.has_live],
                                              keys, lo, hi)
                for i, view in enumerate(views):
                    if view.has_live:
                        futures[i] = pool.submit(_live_then_exports(
                            view, keys, axis, last, live.get(view.run_id, empty_live)))
                return axis, [futures[i].result() for i in range(len(views))]
            finally:
                # Never close a view a worker may still be reading.
                wait(futures.values())
        finally:
            for view in views:
                view.close()
