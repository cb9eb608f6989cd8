"""History exports: a run's rows as one Parquet file, one column per metric key.

Layout (what the SDK's own reader, ``beta_scan_history`` / ``download_history_exports``,
expects): an ``int64`` column ``_step`` first, rows sorted by it, then one column per key.
Row groups carry ``_step`` statistics, so a step range reads only the groups it overlaps.

A key's column is typed by what was logged under it: ``int64`` for integers, ``double``
for floats (and for integers mixed with floats, when they fit 2^53), ``bool``, ``string``,
``uint64``, or a struct/list type inferred by Arrow for dicts and lists (media
descriptors, histograms), kept only when it reads back equal. Anything else (mixed kinds,
objects Arrow cannot type) is stored as JSON text and marked with the field metadata
``tracklet.encoding=json`` so tracklet decodes it exactly. A missing value is a null.
Explicit ``null`` values, and the integers of a ``double`` column, are recorded per key in
the export's statistics (see :class:`KeyStats`) and restored by :class:`ExportFile`.
"""

from __future__ import annotations

import os
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracklet.errors import Unavailable
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.rows import Row, dumps_row, same_json, zip_records

STEP = "_step"
ENCODING = b"tracklet.encoding"
JSON = b"json"
SCHEMA_MARK = {b"tracklet.history": b"1"}

MAX_NULL_STEPS = 10_000
#: Integers a ``double`` column records by step; a key with more is stored as JSON text.
MAX_INT_STEPS = 10_000
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


@dataclass
class KeyStats:
    """What an export knows about one key without reading the file."""

    count: int = 0
    numbers: int = 0
    other_types: Counter[str] = field(default_factory=Counter)
    first_step: int | None = None
    last_step: int | None = None
    min: tuple[float, int] | None = None
    max: tuple[float, int] | None = None
    null_steps: list[int] = field(default_factory=list)
    nulls_truncated: bool = False
    #: Steps whose value is an integer in a column stored as ``double``.
    int_steps: list[int] = field(default_factory=list)

    @property
    def types(self) -> Counter[str]:
        """Values per type name (see :func:`type_name`)."""
        counts = Counter(self.other_types)
        if self.numbers:
            counts["number"] += self.numbers
        return counts

    def add(self, step: int, value: Any) -> None:
        """Account for ``value`` logged at ``step`` (rows arrive in step order)."""
        self.count += 1
        if self.first_step is None:
            self.first_step = step
        self.last_step = step
        kind = type(value)
        if kind is float or kind is int:
            self.numbers += 1
            if value - value == 0:  # finite: NaN - NaN and inf - inf are NaN
                if self.min is None or value < self.min[0]:
                    self.min = (value, step)
                if self.max is None or value > self.max[0]:
                    self.max = (value, step)
            return
        self.other_types[type_name(value)] += 1
        if value is None:
            if len(self.null_steps) < MAX_NULL_STEPS:
                self.null_steps.append(step)
            else:
                self.nulls_truncated = True

    def add_numbers(self, steps: Sequence[int], values: Sequence[int | float]) -> None:
        """:meth:`add` for each pair, when every value is an int or a float and every int
        fits an int64, or fits 2**53 when floats are among them."""
        n = len(values)
        if not n:
            return
        self.count += n
        self.numbers += n
        if self.first_step is None:
            self.first_step = steps[0]
        self.last_step = steps[-1]
        # int64 when every value is an int (they fit), float64 once a float is among them.
        array = np.asarray(values)
        finite = np.isfinite(array) if array.dtype.kind == "f" else None
        if finite is not None and not finite.all():
            if not finite.any():
                return
            low = int(np.where(finite, array, np.inf).argmin())
            high = int(np.where(finite, array, -np.inf).argmax())
        else:
            low, high = int(array.argmin()), int(array.argmax())
        # argmin/argmax give the first extreme, as add() keeps the first (strict < and >).
        if self.min is None or values[low] < self.min[0]:
            self.min = (values[low], steps[low])
        if self.max is None or values[high] > self.max[0]:
            self.max = (values[high], steps[high])

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite values never occur in it)."""
        return {
            "count": self.count,
            "typeCounts": [{"type": t, "count": c} for t, c in self.types.most_common()],
            "firstStep": self.first_step,
            "lastStep": self.last_step,
            "min": list(self.min) if self.min else None,
            "max": list(self.max) if self.max else None,
            "nullSteps": self.null_steps,
            "nullsTruncated": self.nulls_truncated,
            **({"intSteps": self.int_steps} if self.int_steps else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyStats:
        """Inverse of :meth:`to_json`."""
        stats = cls(count=int(data.get("count", 0)))
        types = Counter({t["type"]: int(t["count"]) for t in data.get("typeCounts", [])})
        stats.numbers = types.pop("number", 0)
        stats.other_types = types
        stats.first_step = data.get("firstStep")
        stats.last_step = data.get("lastStep")
        stats.min = (data["min"][0], data["min"][1]) if data.get("min") else None
        stats.max = (data["max"][0], data["max"][1]) if data.get("max") else None
        stats.null_steps = list(data.get("nullSteps", []))
        stats.nulls_truncated = bool(data.get("nullsTruncated", False))
        stats.int_steps = list(data.get("intSteps", []))
        return stats


def is_number(value: Any) -> bool:
    """A JSON number (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """The W&B-style type name of a logged value (``number``, ``string``, media ``_type``...)."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        kind = value.get("_type")
        return kind if isinstance(kind, str) else "map"
    return "unknown"


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
                    same_json(_strip_nulls(back), orig)
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


def _strip_nulls(value: Any) -> Any:
    """Struct values read back with every field; drop the ones the row did not have."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


# -- reading ----------------------------------------------------------------------------------


class _GroupCache:
    """Recently decoded row groups of export files, shared by every reader in the process.

    A client scanning a history pages through it 1,000 steps a request, and a row group
    holds up to 32,768 rows: without this each page would decode its whole group again.
    Exports are immutable files (a rebuild writes a new one); the key is the file's identity
    (path, inode, size, modification time), group and columns, so even a file rewritten in
    place is never answered from its old groups.
    """

    def __init__(self, max_cells: int = 4_000_000) -> None:
        self._entries: OrderedDict[tuple[Any, int, tuple[str, ...]], pa.Table] = OrderedDict()
        self._cells = 0
        self._max_cells = max_cells
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, int, tuple[str, ...]]) -> pa.Table | None:
        with self._lock:
            table = self._entries.get(key)
            if table is not None:
                self._entries.move_to_end(key)
            return table

    def put(self, key: tuple[Any, int, tuple[str, ...]], table: pa.Table) -> None:
        cells = table.num_rows * table.num_columns
        if cells > self._max_cells:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = table
            self._cells += cells
            while self._cells > self._max_cells:
                _, old = self._entries.popitem(last=False)
                self._cells -= old.num_rows * old.num_columns


_GROUPS = _GroupCache()


@dataclass(frozen=True)
class _FileIndex:
    """What a reader needs from an export's footer: its columns and row-group step ranges."""

    keys: tuple[str, ...]
    json_keys: frozenset[str]
    nested_keys: frozenset[str]
    groups: tuple[tuple[int, int, int], ...]
    group_rows: dict[int, int]

    @classmethod
    def of(cls, file: pq.ParquetFile) -> _FileIndex:
        schema = file.schema_arrow
        meta = file.metadata
        step_index = schema.get_field_index(STEP)
        groups: list[tuple[int, int, int]] = []
        group_rows: dict[int, int] = {}
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            if group.num_rows == 0:
                continue
            group_rows[i] = group.num_rows
            st = group.column(step_index).statistics
            if st is not None and st.has_min_max:
                groups.append((i, int(st.min), int(st.max)))
            else:
                groups.append((i, -(2**63), 2**63 - 1))
        return cls(
            keys=tuple(name for name in schema.names if name != STEP),
            json_keys=frozenset(f.name for f in schema
                                if f.metadata and f.metadata.get(ENCODING) == JSON),
            nested_keys=frozenset(f.name for f in schema
                                  if pa.types.is_struct(f.type) or pa.types.is_list(f.type)),
            groups=tuple(groups),
            group_rows=group_rows,
        )


class _IndexCache:
    """Footers of recently read export files, keyed by the file's identity (path, inode,
    size, modification time), so a page of a scan neither opens nor parses the file when
    its row groups are already decoded. A file rewritten in place gets a new key."""

    def __init__(self, size: int = 1024) -> None:
        self._entries: OrderedDict[tuple[Any, ...], _FileIndex] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> _FileIndex | None:
        with self._lock:
            index = self._entries.get(key)
            if index is not None:
                self._entries.move_to_end(key)
            return index

    def put(self, key: tuple[Any, ...], index: _FileIndex) -> None:
        with self._lock:
            self._entries[key] = index
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_INDEXES = _IndexCache()


class ExportFile:
    """Server-side reader of an export: step ranges, key projection, exact values.

    The file itself is opened on first need (a row group not in the shared cache, or a
    caller using :attr:`file`); its footer comes from a shared cache. ``FileNotFoundError``
    when ``path`` does not exist.
    """

    def __init__(self, path: Path, stats: dict[str, KeyStats] | None = None) -> None:
        self.path = str(path)
        st = os.stat(self.path)
        identity = (self.path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self._identity = identity
        self._file: pq.ParquetFile | None = None
        index = _INDEXES.get(identity)
        if index is None:
            index = _FileIndex.of(self.file)
            _INDEXES.put(identity, index)
        self.keys = list(index.keys)
        self._key_set = frozenset(index.keys)
        self.json_keys = index.json_keys
        self.nested_keys = index.nested_keys
        self.groups = index.groups
        self._group_rows = index.group_rows
        self.nulls = {k: set(s.null_steps) for k, s in (stats or {}).items() if s.null_steps}
        self.ints = {k: set(s.int_steps) for k, s in (stats or {}).items() if s.int_steps}

    @property
    def file(self) -> pq.ParquetFile:
        """The open Parquet file (memory-mapped)."""
        if self._file is None:
            try:
                self._file = pq.ParquetFile(self.path, memory_map=True)
            except FileNotFoundError:
                # Replaced by a newer export since the caller listed it: read again.
                raise Unavailable("run history is being compacted, retry shortly") from None
        return self._file

    def rows(self, min_step: int | None = None, max_step: int | None = None,
             keys: Iterable[str] | None = None) -> Iterator[Row]:
        """Rows with ``min_step <= _step < max_step`` in step order, with only ``keys``
        (all keys when None; ``_step`` is always included)."""
        wanted = self.keys if keys is None else [k for k in dict.fromkeys(keys)
                                                  if k in self._key_set]
        for part in self._slices(min_step, max_step, [STEP, *wanted]):
            yield from self._rows(part, wanted)

    def records(self, min_step: int | None, max_step: int | None,
                keys: Sequence[str]) -> list[dict[str, Any]] | None:
        """Rows in ``[min_step, max_step)`` holding every key, as strict-JSON-ready
        ``{key: value}`` dicts built column-wise; None when a key needs the exact
        row-by-row decoding (JSON-encoded, nested, explicit nulls, non-finite floats)."""
        wanted = list(dict.fromkeys(keys))
        if any(k in self.json_keys or k in self.nested_keys or k in self.nulls
               or k in self.ints for k in wanted):
            return None
        present = [k for k in wanted if k in self._key_set and k != STEP]
        if len(present) != len([k for k in wanted if k != STEP]):
            return []
        out: list[dict[str, Any]] = []
        for part in self._slices(min_step, max_step, [STEP, *present]):
            mask = None
            for key in present:
                column = part.column(key)
                if pa.types.is_floating(column.type) and not pc.all(
                        pc.or_kleene(pc.is_finite(column), pc.is_null(column))).as_py():
                    return None
                if column.null_count:
                    valid = pc.is_valid(column)
                    mask = valid if mask is None else pc.and_(mask, valid)
            if mask is not None:
                part = part.filter(mask)
            out.extend(zip_records(wanted, [part.column(n).to_pylist() for n in wanted]))
        return out

    def texts(self, min_step: int | None = None,
              max_step: int | None = None) -> list[str] | None:
        """Every row in ``[min_step, max_step)`` as the JSON text :meth:`rows` would give
        (``Row.text``), built column-wise; None when a column needs the exact row-by-row
        decoding (JSON-encoded, nested, explicit nulls, non-finite floats)."""
        if self.json_keys or self.nested_keys or self.nulls or self.ints:
            return None
        out: list[str] = []
        names = [STEP, *self.keys]
        for part in self._slices(min_step, max_step, names):
            for key in self.keys:
                column = part.column(key)
                if pa.types.is_floating(column.type) and not pc.all(
                        pc.or_kleene(pc.is_finite(column), pc.is_null(column))).as_py():
                    return None
            columns = [(n, part.column(n).to_pylist(), part.column(n).null_count > 0)
                       for n in names]
            dumps = orjson.dumps
            if not any(nulls for _, _, nulls in columns):
                out.extend(dumps(dict(zip(names, values, strict=True))).decode()
                           for values in zip(*(c for _, c, _ in columns), strict=True))
                continue
            for i in range(part.num_rows):
                out.append(dumps({n: c[i] for n, c, nulls in columns
                                  if not nulls or c[i] is not None}).decode())
        return out

    def overlapping_groups(self, min_step: int | None,
                     max_step: int | None) -> Iterator[tuple[int, int, int]]:
        """(index, smallest step, largest step) of the row groups the range may touch."""
        for index, lo, hi in self.groups:
            if not ((max_step is not None and lo >= max_step)
                    or (min_step is not None and hi < min_step)):
                yield index, lo, hi

    def _slices(self, min_step: int | None, max_step: int | None,
                columns: list[str]) -> Iterator[pa.Table]:
        """``columns`` (``_step`` first) of each row group, cut to ``[min_step, max_step)``;
        empty cuts are skipped."""
        for index, _lo, _hi in self.overlapping_groups(min_step, max_step):
            table = self.read_group(index, columns)
            start, stop = step_bounds(table.column(STEP).to_numpy(), min_step, max_step)
            if start < stop:
                yield table.slice(start, stop - start)

    def read_group(self, index: int, columns: list[str]) -> pa.Table:
        """Row group ``index`` with ``columns`` (decoded once, then from the cache)."""
        key = (self._identity, index, tuple(columns))
        table = _GROUPS.get(key)
        if table is None:
            table = self.file.read_row_group(index, columns=columns, use_threads=False)
            _GROUPS.put(key, table)
        return table

    def group_rows(self, indexes: Iterable[int]) -> int:
        """How many rows the row groups at ``indexes`` hold."""
        return sum(self._group_rows[i] for i in indexes)

    def count(self, min_step: int | None = None, max_step: int | None = None) -> int:
        """How many rows have ``min_step <= _step < max_step`` (reads only ``_step``)."""
        total = 0
        for index, lo, hi in self.overlapping_groups(min_step, max_step):
            if (min_step is None or lo >= min_step) and (max_step is None or hi < max_step):
                total += self._group_rows[index]
                continue
            steps = self.read_group(index, [STEP]).column(STEP).to_numpy()
            start, stop = step_bounds(steps, min_step, max_step)
            total += max(0, stop - start)
        return total

    def rows_at(self, steps: Sequence[int], keys: Iterable[str] | None = None) -> list[Row]:
        """Rows whose ``_step`` is in ``steps``, in step order."""
        wanted = self.keys if keys is None else [k for k in dict.fromkeys(keys)
                                                  if k in self._key_set]
        targets = np.array(sorted(set(steps)), dtype=np.int64)
        out: list[Row] = []
        for index, lo, hi in self.groups:
            inside = targets[(targets >= lo) & (targets <= hi)]
            if inside.size == 0:
                continue
            table = self.file.read_row_group(index, columns=[STEP, *wanted])
            mask = pc.is_in(table.column(STEP), value_set=pa.array(inside, type=pa.int64()))
            out.extend(self._rows(table.filter(mask), wanted))
        return out

    def _rows(self, table: pa.Table, keys: list[str]) -> Iterator[Row]:
        steps = table.column(STEP).to_pylist()
        columns = [(k, table.column(k).to_pylist(), k in self.json_keys,
                    k in self.nested_keys, self.nulls.get(k), self.ints.get(k)) for k in keys]
        for i, step in enumerate(steps):
            data: dict[str, Any] = {STEP: step}
            for key, values, as_json, nested, nulls, ints in columns:
                value = values[i]
                if value is None:
                    if nulls is not None and step in nulls:
                        data[key] = None
                    continue
                if as_json:
                    value = loads(value)
                elif nested:
                    value = _strip_nulls(value)
                elif ints is not None and step in ints:
                    value = int(value)
                data[key] = value
            yield Row(int(step), data=data)

    def close(self) -> None:
        """Release the file (if it was opened)."""
        if self._file is not None:
            self._file.close()
            self._file = None


def step_bounds(steps: np.ndarray, min_step: int | None, max_step: int | None) -> tuple[int, int]:
    """The slice of sorted ``steps`` with ``min_step <= step < max_step``."""
    start = 0 if min_step is None else int(np.searchsorted(steps, min_step, "left"))
    stop = len(steps) if max_step is None else int(np.searchsorted(steps, max_step, "left"))
    return start, stop
