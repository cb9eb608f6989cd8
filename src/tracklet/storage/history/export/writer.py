"""Writing a history export: a run's rows as one Parquet file in the layout of
:mod:`.format`, each key's column typed by what was logged under it, with per-key
statistics (:class:`.key_stats.KeyStats`) gathered on the way."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tracklet.storage.history.export.format import (
    ENCODING,
    JSON,
    SCHEMA_MARK,
    STEP,
    strip_nulls,
)
from tracklet.storage.history.export.key_stats import MAX_INT_STEPS, KeyStats
from tracklet.storage.history.rows import Row, dumps_row, same_json

#: Rows an export's writer handles at once (one key's values of a block go together).
BLOCK_ROWS = 4096


class _Missing:
    """The value of a key a row does not hold."""


_MISSING = _Missing()
_NUMBERS = frozenset({int, float})
_INT64 = (-(2**63), 2**63)
_EXACT_FLOAT_INT = 2**53


def chunk_rows(nkeys: int) -> int:
    """Rows per row group: about a million cells, between 1,024 and 32,768 rows."""
    return max(1024, min(32768, 1_000_000 // max(1, nkeys)))


@dataclass(frozen=True)
class ExportSummary:
    """What writing an export produced."""

    rows: int
    min_step: int | None
    max_step: int | None
    keys: dict[str, KeyStats]


# -- writing ----------------------------------------------------------------------------------


class _ColumnPlan:
    """Pass-1 state for one key: kinds of values seen and the nested type, if any."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()
        self.ints = 0
        self.big_int = False
        self.negative = False
        self.nested_type: pa.DataType | None = None
        self.nested_ok = True
        self.pending: list[Any] = []

    def see(self, value: Any) -> None:
        kind = type(value)
        if kind is float:
            self.kinds.add("float")
        elif kind is int:
            if _INT64[0] <= value < _INT64[1]:
                self.kinds.add("int")
                self.ints += 1
                if value > _EXACT_FLOAT_INT or value < -_EXACT_FLOAT_INT:
                    self.big_int = True
                if value < 0:
                    self.negative = True
            elif 0 <= value < 2**64:
                self.kinds.add("uint")
            else:
                self.kinds.add("huge")
        elif kind is str:
            self.kinds.add("str")
        elif kind is bool:
            self.kinds.add("bool")
        elif value is not None:
            self.kinds.add("nested")
            if self.nested_ok:
                self.pending.append(value)

    def see_numbers(self, values: Sequence[int | float], kinds: set[type]) -> bool:
        """:meth:`see` for values that are all ints or floats (``kinds``, their types);
        False, seeing nothing, when an int does not fit an int64 (or 2**53 next to floats),
        which :meth:`see` and :meth:`KeyStats.add` handle value by value."""
        if int in kinds:
            ints = values if len(kinds) == 1 else [v for v in values if type(v) is int]
            low, high = min(ints), max(ints)
            if float in kinds:
                if low < -_EXACT_FLOAT_INT or high > _EXACT_FLOAT_INT:
                    return False
            elif low < _INT64[0] or high >= _INT64[1]:
                return False
            self.kinds.add("int")
            self.ints += len(ints)
            if high > _EXACT_FLOAT_INT or low < -_EXACT_FLOAT_INT:
                self.big_int = True
            if low < 0:
                self.negative = True
        if float in kinds:
            self.kinds.add("float")
        return True

    def flush_nested(self) -> None:
        """Infer an Arrow type for this chunk's nested values; give up unless it round-trips."""
        if not self.pending or not self.nested_ok:
            self.pending = []
            return
        try:
            array = pa.array(self.pending)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            self.nested_ok = False
        else:
            if self.nested_type is None:
                self.nested_type = array.type
            if array.type != self.nested_type or _has_null_type(array.type) or not all(
                    same_json(strip_nulls(back), orig)
                    for back, orig in zip(array.to_pylist(), self.pending, strict=True)):
                self.nested_ok = False
        self.pending = []

    def arrow_type(self) -> tuple[pa.DataType, bool]:
        """(type, stored-as-JSON-text) for the column."""
        kinds = self.kinds
        if kinds == {"int"}:
            return pa.int64(), False
        if kinds <= {"int", "uint"} and kinds and not self.negative:
            return pa.uint64(), False
        if (kinds <= {"int", "float"} and "float" in kinds and not self.big_int
                and self.ints <= MAX_INT_STEPS):
            return pa.float64(), False
        if kinds == {"bool"}:
            return pa.bool_(), False
        if kinds == {"str"}:
            return pa.string(), False
        if kinds == {"nested"} and self.nested_ok and self.nested_type is not None:
            return self.nested_type, False
        return pa.string(), True


def write_export(rows: Callable[[], Iterable[Row]], path: Path) -> ExportSummary:
    """Write the rows (given twice, in step order, by ``rows()``) to ``path`` as Parquet.

    Two streaming passes keep memory to one row group: the first decides each column's type
    and gathers per-key statistics, the second writes. Both work a block of rows at a time,
    one key's values together, so the usual all-number column costs a few numpy calls per
    block instead of Python work per value.
    """
    plans: dict[str, _ColumnPlan] = {}
    stats: dict[str, KeyStats] = {}
    count, lo, hi = 0, None, None
    unflushed = 0
    for block in _blocks(rows()):
        steps = [row.step for row in block]
        dicts = [row.data for row in block]
        count += len(block)
        lo = steps[0] if lo is None else lo
        hi = steps[-1]
        for key in dict.fromkeys(chain.from_iterable(dicts)):
            if key == STEP:
                continue
            plan = plans.get(key)
            if plan is None:
                plan = plans[key] = _ColumnPlan()
                stats[key] = KeyStats()
            _account(plan, stats[key], steps, [d.get(key, _MISSING) for d in dicts])
        unflushed += len(block)
        if unflushed >= chunk_rows(len(plans) + 1):
            unflushed = 0
            for plan in plans.values():
                plan.flush_nested()
    for plan in plans.values():
        plan.flush_nested()
    step_stats = KeyStats()
    types = {key: plan.arrow_type() for key, plan in plans.items()}
    fields = [pa.field(STEP, pa.int64(), nullable=False)]
    fields += [pa.field(key, t, metadata={ENCODING: JSON} if as_json else None)
               for key, (t, as_json) in types.items()]
    schema = pa.schema(fields, metadata=SCHEMA_MARK)
    size = chunk_rows(len(fields))
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        # A double column keeps its integers' steps, so they read back as integers.
        mixed = [key for key, (t, _) in types.items()
                 if pa.types.is_floating(t) and plans[key].ints]
        for steps, columns in _columns(rows(), list(types), size):
            step_stats.add_numbers(steps, steps)
            for key in mixed:
                stats[key].int_steps.extend(
                    step for step, v in zip(steps, columns[key], strict=True) if type(v) is int)
            arrays = [pa.array(steps, type=pa.int64())]
            for key, (t, as_json) in types.items():
                arrays.append(_to_array(columns[key], t, as_json))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=size)
    if step_stats.count:
        stats[STEP] = step_stats
    return ExportSummary(rows=count, min_step=lo, max_step=hi, keys=stats)


def _blocks(rows: Iterable[Row], size: int = BLOCK_ROWS) -> Iterator[list[Row]]:
    block: list[Row] = []
    for row in rows:
        block.append(row)
        if len(block) == size:
            yield block
            block = []
    if block:
        yield block


def _account(plan: _ColumnPlan, stats: KeyStats, steps: list[int], values: list[Any]) -> None:
    """Pass 1 for one key over a block: ``values`` per row, :data:`_MISSING` where absent."""
    kinds = set(map(type, values))
    if _Missing in kinds:
        present = [i for i, v in enumerate(values) if v is not _MISSING]
        if not present:
            return
        steps = [steps[i] for i in present]
        values = [values[i] for i in present]
        kinds.discard(_Missing)
    if kinds <= _NUMBERS and plan.see_numbers(values, kinds):
        stats.add_numbers(steps, values)
        return
    see, add = plan.see, stats.add
    for step, value in zip(steps, values, strict=True):
        see(value)
        add(step, value)


def _columns(rows: Iterable[Row], keys: list[str],
             size: int) -> Iterator[tuple[list[int], dict[str, list[Any]]]]:
    """Pass 2: ``size`` rows at a time as (steps, values per key, :data:`_MISSING` where
    absent)."""
    steps: list[int] = []
    columns: dict[str, list[Any]] = {k: [] for k in keys}
    for block in _blocks(rows):
        while block:
            take, block = block[:size - len(steps)], block[size - len(steps):]
            steps.extend(row.step for row in take)
            dicts = [row.data for row in take]
            for key, column in columns.items():
                column.extend([d.get(key, _MISSING) for d in dicts])
            if len(steps) == size:
                yield steps, columns
                steps, columns = [], {k: [] for k in keys}
    if steps:
        yield steps, columns


def _to_array(values: list[Any], arrow_type: pa.DataType, as_json: bool) -> pa.Array:
    if as_json:
        return pa.array([None if v is _MISSING else dumps_row(v) for v in values],
                        type=pa.string())
    return pa.array([None if v is _MISSING else v for v in values], type=arrow_type)


def _has_null_type(t: pa.DataType) -> bool:
    """Types Parquet or the SDK's reader cannot hold: null, empty structs, maps, large."""
    if pa.types.is_null(t):
        return True
    if pa.types.is_struct(t):
        return t.num_fields == 0 or any(_has_null_type(t.field(i).type)
                                        for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _has_null_type(t.value_type)
    return bool(pa.types.is_map(t) or pa.types.is_large_string(t)
                or pa.types.is_large_binary(t))
