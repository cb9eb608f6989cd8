"""The server's reader of a history export (see :mod:`.format` for the layout): step ranges,
key projection, exact values, and the column-wise fast paths of history pages."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from tracklet.errors import Unavailable
from tracklet.storage.history.export.cache import ExportReadCache
from tracklet.storage.history.export.format import (
    STEP,
    FileIndex,
    step_bounds,
    strip_nulls,
)
from tracklet.storage.history.export.key_stats import KeyStats
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.rows import Row, zip_records


class ExportFile:
    """Server-side reader of an export: step ranges, key projection, exact values.

    The file itself is opened on first need (a row group not in ``cache``, or a caller
    using :attr:`file`); its footer comes from ``cache`` too. Readers given the same cache
    (``Storage.export_reads``) share it; without one a reader keeps its own.
    ``FileNotFoundError`` when ``path`` does not exist.
    """

    def __init__(self, path: Path, stats: dict[str, KeyStats] | None = None,
                 cache: ExportReadCache | None = None) -> None:
        self.path = str(path)
        st = os.stat(self.path)
        identity = (self.path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        self._identity = identity
        self._file: pq.ParquetFile | None = None
        self._metadata: pq.FileMetaData | None = None
        self._cache = cache = ExportReadCache() if cache is None else cache
        index = cache.footers.get(identity)
        if index is None:
            index = FileIndex.of(self.file)
            cache.footers.put(identity, index)
        self.keys = list(index.keys)
        self._key_set = frozenset(index.keys)
        self.json_keys = index.json_keys
        self.nested_keys = index.nested_keys
        self.groups = index.groups
        self._group_rows = index.group_rows
        self._metadata = index.metadata
        self.nulls = {k: set(s.null_steps) for k, s in (stats or {}).items() if s.null_steps}
        self.ints = {k: set(s.int_steps) for k, s in (stats or {}).items() if s.int_steps}

    @property
    def file(self) -> pq.ParquetFile:
        """The open Parquet file (memory-mapped)."""
        if self._file is None:
            try:
                # The footer parsed before (the file's identity is the cache key).
                self._file = pq.ParquetFile(self.path, memory_map=True,
                                            metadata=self._metadata)
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
        groups = self._cache.groups
        table = groups.get(key)
        if table is None:
            table = self.file.read_row_group(index, columns=columns, use_threads=False)
            groups.put(key, table)
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
                    value = strip_nulls(value)
                elif ints is not None and step in ints:
                    value = int(value)
                data[key] = value
            yield Row(int(step), data=data)

    def close(self) -> None:
        """Release the file (if it was opened)."""
        if self._file is not None:
            self._file.close()
            self._file = None
