"""Exact columnar scans of a run's history: ``_step`` plus chosen keys, as Arrow tables.

What the history endpoint (``GET /api/v1/runs/history``) streams. Both tiers are read the
way :meth:`.tiers.RunHistory.rows` merges them: rows in step order, a live row replacing
the exported rows of its step. Nothing is sampled. A row is returned when at least one
requested key has a non-null value in it; a null cell means the key is missing from that
row (or was logged as ``null``).

Exported row groups are read column-wise straight from Parquet (only the groups the step
range overlaps), so an exported run's scan costs about what reading its Parquet columns
costs; live rows are parsed from their JSON text. Output is a stream of tables of at most
:data:`BATCH_ROWS` rows, so memory stays bounded for any history length.

Column types are decided before the first row (a stream has one schema), from the export
parts' column types and the live rows' values: read ahead when they fit one batch (as for a
short or resumed run), else from the live tier's per-key type counts, which tell numbers
but not integers from floats:

- ``int64`` / ``uint64`` when every value is known to be one; ``float64`` for any other mix
  of numbers (and for live numbers past one batch). A live integer beyond 2**53 in a
  ``float64`` column comes as the nearest double;
- ``bool`` and ``string`` when every value is one;
- anything else (dicts, lists, mixed kinds) as ``string`` holding each value's JSON text (as
  the SDK writes it, ``NaN``/``Infinity`` included), marked with the field metadata
  ``tracklet.encoding=json`` like the export's own JSON columns;
- ``null`` for a key the run never logged.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tracklet.storage.history.export.format import (
    ENCODING,
    JSON,
    STEP,
    step_bounds,
    strip_nulls,
)
from tracklet.storage.history.export.reader import ExportFile
from tracklet.storage.history.export.table import Export
from tracklet.storage.history.live.projection import MISSING, ChunkProjection
from tracklet.storage.history.live.read import iter_batches_as, live_steps
from tracklet.storage.history.read.keys import live_key_counts
from tracklet.storage.history.read.tiers import RunHistory
from tracklet.storage.history.rows import dumps_row

BATCH_ROWS = 32_768
#: Cells (rows x columns) decoded per Parquet read: as many row groups at once as fit, so
#: pyarrow decodes them in parallel as a plain whole-file read does, with memory bounded at
#: about 8 bytes a cell (32 MiB).
CELLS_PER_READ = 1 << 22
THREADED_ROWS = 65_536
STEP_FIELD = pa.field(STEP, pa.int64(), nullable=False)

_LIVE_KINDS = {"number": "number", "boolean": "bool", "string": "str"}
_INT64 = (-(2**63), 2**63)


@dataclass(frozen=True)
class Column:
    """One requested key: its output type and whether values are JSON text."""

    key: str
    type: pa.DataType
    as_json: bool

    def field(self) -> pa.Field:
        """The key's Arrow field."""
        return pa.field(self.key, self.type, metadata={ENCODING: JSON} if self.as_json else None)


def output_type(kinds: set[str]) -> tuple[pa.DataType, bool]:
    """(Arrow type, as JSON text) for a key whose values are of ``kinds``."""
    if not kinds:
        return pa.null(), False
    if kinds == {"int"}:
        return pa.int64(), False
    if kinds == {"uint"}:
        return pa.uint64(), False
    if kinds <= {"int", "float", "number"}:
        return pa.float64(), False
    if kinds == {"bool"}:
        return pa.bool_(), False
    if kinds == {"str"}:
        return pa.string(), False
    return pa.string(), True


def value_kind(value: Any) -> str:
    """The kind (as :func:`output_type` takes it) of one logged value."""
    kind = type(value)
    if kind is float:
        return "float"
    if kind is bool:
        return "bool"
    if kind is int:
        if _INT64[0] <= value < _INT64[1]:
            return "int"
        return "uint" if 0 <= value < 2**64 else "other"
    if kind is str:
        return "str"
    return "other"


def value_kinds(values: list[Any]) -> set[str]:
    """``{value_kind(v) for v in values if v is not None}``, a type at a time."""
    out: set[str] = set()
    for kind in set(map(type, values)):
        if kind is float:
            out.add("float")
        elif kind is bool:
            out.add("bool")
        elif kind is str:
            out.add("str")
        elif kind is int:
            ints = [v for v in values if type(v) is int]
            if _INT64[0] <= min(ints) and max(ints) < _INT64[1]:
                out.add("int")
            else:
                out.update(map(value_kind, ints))
        elif kind is not type(None):
            out.add("other")
    return out


def _export_kind(file: ExportFile, key: str) -> str:
    if key in file.json_keys or key in file.nested_keys:
        return "other"
    t = file.file.schema_arrow.field(key).type
    if pa.types.is_int64(t):
        return "int"
    if pa.types.is_uint64(t):
        return "uint"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_string(t):
        return "str"
    return "other"


def _overlaps(export: Export, min_step: int | None, max_step: int | None) -> bool:
    if export.min_step is None or export.max_step is None:
        return False
    return not ((max_step is not None and export.min_step >= max_step)
                or (min_step is not None and export.max_step < min_step))


class ColumnScan:
    """One scan of ``keys`` over ``[min_step, max_step)`` of ``view``'s run."""

    def __init__(self, view: RunHistory, keys: Sequence[str], min_step: int | None = None,
                 max_step: int | None = None, batch_rows: int = BATCH_ROWS) -> None:
        self.view = view
        self.keys = [k for k in dict.fromkeys(keys) if k != STEP]
        self.min_step = min_step
        self.max_step = max_step
        self.batch_rows = batch_rows
        self.exports = [e for e in view.exports if _overlaps(e, min_step, max_step)]
        # Live rows are read ahead up to one batch: when that is all of them (a short or
        # resumed run), their own values type the columns and no tier-wide count is needed.
        # A run never exported goes straight to its chunk listing, which costs what asking
        # whether there are live rows would.
        self._live = (self._live_batches() if not view.exports or view.has_live
                      else iter(()))
        self._ahead: list[_LiveBatch] = []
        self._ahead_rows = 0
        for batch in self._live:
            self._ahead.append(batch)
            self._ahead_rows += len(batch)
            if self._ahead_rows > batch_rows:
                break
        self.columns = self._plan()
        self.schema = pa.schema([STEP_FIELD, *(c.field() for c in self.columns)],
                                metadata={b"tracklet.history": b"1"})

    def _plan(self) -> list[Column]:
        kinds: dict[str, set[str]] = {k: set() for k in self.keys}
        for export in self.exports:
            file = self.view.file(export)
            for key in self.keys:
                if key in file.keys:
                    kinds[key].add(_export_kind(file, key))
        for batch in self._ahead:
            for key, values in zip(self.keys, batch.columns, strict=True):
                kinds[key].update(value_kinds(values))
        if self._ahead_rows > self.batch_rows:
            counts = live_key_counts(self.view.storage.memo).counts(self.view)
            for key in self.keys:
                for name, n in counts.get(key, {}).items():
                    if n and name != "nil":
                        kinds[key].add(_LIVE_KINDS.get(name, "other"))
        return [Column(k, *output_type(kinds[k])) for k in self.keys]

    # -- the merged stream -------------------------------------------------------------

    def tables(self) -> Iterator[pa.Table]:
        """The rows as tables with :attr:`schema`, in step order, none of them empty."""
        view = self.view
        shadow: np.ndarray[Any, np.dtype[np.int64]] | None = None
        top = view.exported_max_step
        if self.exports and view.has_live and view.live_min is not None and (
                top is not None and view.live_min <= top):
            steps = live_steps(view.conn, view.run_id, self.min_step, self.max_step)
            shadow = np.fromiter(sorted(steps), dtype=np.int64, count=len(steps))
        pending = _Peek(itertools.chain(self._ahead, self._live))
        for exported in self._exported_tables(shadow):
            steps_col = exported.column(STEP)
            lo, hi = steps_col[0].as_py(), steps_col[-1].as_py()
            yield from self._live_tables(pending, lo)
            inside = pending.take(hi, inclusive=True)
            if inside is not None:
                merged = pa.concat_tables([exported, self._live_table(inside)])
                yield merged.sort_by(STEP)
            else:
                yield exported
        yield from self._live_tables(pending, None)

    def _live_tables(self, pending: _Peek, below: int | None) -> Iterator[pa.Table]:
        while True:
            batch = pending.take(below, limit=self.batch_rows)
            if batch is None:
                return
            yield self._live_table(batch)

    # -- exported tier -----------------------------------------------------------------

    def _exported_tables(self, shadow: np.ndarray[Any, np.dtype[np.int64]] | None
                         ) -> Iterator[pa.Table]:
        lo_step, hi_step = self.min_step, self.max_step
        for export in self.exports:
            file = self.view.file(export)
            present = [c for c in self.columns if c.key in file.keys]
            if not present:
                continue
            names = [STEP, *(c.key for c in present)]
            groups = [index for index, _lo, _hi in file.overlapping_groups(lo_step, hi_step)]
            for part in _reads(file, groups, len(names)):
                # Pool threads only pay off past a few thousand rows: handing a small read
                # to them and back costs more than decoding it here.
                table = file.file.read_row_groups(
                    part, columns=names, use_threads=file.group_rows(part) > THREADED_ROWS)
                steps = table.column(STEP).to_numpy()
                start, stop = step_bounds(steps, lo_step, hi_step)
                if start >= stop:
                    continue
                if start or stop < len(steps):
                    table = table.slice(start, stop - start)
                if shadow is not None and shadow.size:
                    keep = pc.invert(pc.is_in(table.column(STEP),
                                              value_set=pa.array(shadow, type=pa.int64())))
                    table = table.filter(keep)
                out = self._from_export(file, table)
                if out.num_rows:
                    yield out

    def _from_export(self, file: ExportFile, table: pa.Table) -> pa.Table:
        n = table.num_rows
        arrays: list[pa.Array | pa.ChunkedArray] = [table.column(STEP)]
        mask: pa.ChunkedArray | pa.Array | None = None
        all_valid = False
        for column in self.columns:
            if column.key not in file.keys:
                arrays.append(pa.nulls(n, type=column.type))
                continue
            values = _convert(file, column, table.column(column.key))
            arrays.append(values)
            if values.null_count == 0:
                all_valid = True
            elif not all_valid:
                valid = pc.is_valid(values)
                mask = valid if mask is None else pc.or_(mask, valid)
        out = pa.Table.from_arrays(arrays, schema=self.schema)
        if not all_valid:
            out = out.filter(mask) if mask is not None else out.slice(0, 0)
        return out

    # -- live tier ---------------------------------------------------------------------

    def _live_batches(self) -> Iterator[_LiveBatch]:
        """The live rows holding a non-null value under at least one key, in step order,
        a batch of :func:`..live.read.iter_batches_as` at a time, decoding only those keys
        (one call per chunk)."""
        keys = self.keys
        if not keys:
            return
        project = ChunkProjection(keys)
        for steps, _lines, rows in iter_batches_as(project.rows, self.view.conn,
                                                   self.view.run_id, self.min_step,
                                                   self.max_step):
            batch = _LiveBatch.held(steps, project.columns(rows))
            if len(batch):
                yield batch

    def _live_table(self, batch: _LiveBatch) -> pa.Table:
        arrays = [pa.array(batch.steps, type=pa.int64())]
        for column, values in zip(self.columns, batch.columns, strict=True):
            if column.as_json:
                arrays.append(pa.array([None if v is None else dumps_row(v) for v in values],
                                       type=pa.string()))
            elif pa.types.is_floating(column.type):
                arrays.append(_floats(values))
            else:
                arrays.append(pa.array(values, type=column.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)


def _floats(values: list[Any]) -> pa.Array:
    """A float64 array of numbers (None for null); an integer no double holds exactly
    becomes the nearest one, which pyarrow's own conversion refuses."""
    try:
        return pa.array(values, type=pa.float64())
    except (pa.ArrowInvalid, OverflowError):
        return pa.array([None if v is None else float(v) for v in values], type=pa.float64())


@dataclass(frozen=True, slots=True)
class _LiveBatch:
    """Live rows in step order: their steps, and per requested key its values (None where
    the row does not hold it)."""

    steps: np.ndarray[Any, np.dtype[np.int64]]
    columns: list[list[Any]]

    def __len__(self) -> int:
        return len(self.steps)

    @classmethod
    def held(cls, steps: np.ndarray[Any, np.dtype[np.int64]],
             columns: list[list[Any]]) -> _LiveBatch:
        """The rows of projected ``columns`` (MISSING where a line lacks the key) that hold
        a non-null value under at least one key."""
        gaps = [None in c or MISSING in c for c in columns]
        if not any(gaps):  # the usual case: every row holds every key
            return cls(steps, columns)
        columns = [[None if v is MISSING else v for v in c] if gap else c
                   for c, gap in zip(columns, gaps, strict=True)]
        if all(gaps):
            flags = [v is not None for v in columns[0]] if len(columns) == 1 else [
                any(v is not None for v in row) for row in zip(*columns, strict=True)]
            if not all(flags):
                index = np.flatnonzero(flags)
                keep = index.tolist()
                return cls(steps[index], [[c[i] for i in keep] for c in columns])
        return cls(steps, columns)

    def slice(self, start: int, stop: int) -> _LiveBatch:
        """Rows ``start`` to ``stop``."""
        return _LiveBatch(self.steps[start:stop], [c[start:stop] for c in self.columns])

    @staticmethod
    def concat(parts: list[_LiveBatch]) -> _LiveBatch:
        """``parts`` one after the other."""
        if len(parts) == 1:
            return parts[0]
        return _LiveBatch(np.concatenate([p.steps for p in parts]),
                          [list(itertools.chain.from_iterable(c))
                           for c in zip(*(p.columns for p in parts), strict=True)])


def _reads(file: ExportFile, groups: list[int], columns: int) -> Iterator[list[int]]:
    """``groups`` in consecutive runs of at most :data:`CELLS_PER_READ` cells (at least
    one group each)."""
    part: list[int] = []
    cells = 0
    for index in groups:
        size = file.group_rows([index]) * columns
        if part and cells + size > CELLS_PER_READ:
            yield part
            part, cells = [], 0
        part.append(index)
        cells += size
    if part:
        yield part


def _convert(file: ExportFile, column: Column,
             values: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """An export column as ``column``'s output type, values unchanged."""
    if column.as_json:
        if column.key in file.json_keys:
            # A logged null is the text "null" there; the output column holds it as null,
            # like a live one (so the row holds no value of this key).
            return pc.if_else(pc.equal(values, "null"), pa.scalar(None, pa.string()), values)
        items = values.to_pylist()
        if column.key in file.nested_keys:
            items = [None if v is None else strip_nulls(v) for v in items]
        return pa.array([None if v is None else dumps_row(v) for v in items], type=pa.string())
    if values.type == column.type:
        return values
    return pc.cast(values, column.type, safe=False)


class _Peek:
    """Batches of live rows that can be handed out by step."""

    def __init__(self, batches: Iterator[_LiveBatch]) -> None:
        self._batches = batches
        self._head: _LiveBatch | None = next(batches, None)

    def take(self, bound: int | None, inclusive: bool = False,
             limit: int | None = None) -> _LiveBatch | None:
        """The next rows with a step below ``bound`` (up to it when ``inclusive``; all when
        None), at most ``limit`` of them; None when there are none."""
        parts: list[_LiveBatch] = []
        taken = 0
        side: Literal["left", "right"] = "right" if inclusive else "left"
        while self._head is not None and (limit is None or taken < limit):
            head = self._head
            cut = len(head) if bound is None else int(np.searchsorted(head.steps, bound, side))
            if limit is not None:
                cut = min(cut, limit - taken)
            if cut == 0:
                break
            taken += cut
            if cut == len(head):
                parts.append(head)
                self._head = next(self._batches, None)
            else:
                parts.append(head.slice(0, cut))
                self._head = head.slice(cut, len(head))
                break
        return _LiveBatch.concat(parts) if parts else None
