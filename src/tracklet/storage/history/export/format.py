"""The layout of a history export: one Parquet file of a run's rows, one column per key.

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
the export's statistics (see :class:`.key_stats.KeyStats`) and restored by
:class:`.reader.ExportFile`.

:mod:`.writer` writes this layout, :mod:`.reader` reads it; both share what is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

STEP = "_step"
ENCODING = b"tracklet.encoding"
JSON = b"json"
SCHEMA_MARK = {b"tracklet.history": b"1"}


def strip_nulls(value: Any) -> Any:
    """Struct values read back with every field; drop the ones the row did not have."""
    if isinstance(value, dict):
        return {k: strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [strip_nulls(v) for v in value]
    return value


#: The largest footer :class:`FileIndex` keeps parsed (a few hundred keys).
KEPT_FOOTER_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileIndex:
    """What a reader needs from an export's footer: its columns and row-group step ranges."""

    keys: tuple[str, ...]
    json_keys: frozenset[str]
    nested_keys: frozenset[str]
    groups: tuple[tuple[int, int, int], ...]
    group_rows: dict[int, int]
    #: The parsed footer, handed back to ``pq.ParquetFile`` when the file is opened again
    #: (reparsing it cost more than reading a small part's column); None for a footer
    #: larger than :data:`KEPT_FOOTER_BYTES` (many keys), which a cache should not hold.
    metadata: pq.FileMetaData | None = None

    @classmethod
    def of(cls, file: pq.ParquetFile) -> FileIndex:
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
            metadata=meta if meta.serialized_size <= KEPT_FOOTER_BYTES else None,
        )


def step_bounds(steps: np.ndarray, min_step: int | None, max_step: int | None) -> tuple[int, int]:
    """The slice of sorted ``steps`` with ``min_step <= step < max_step``."""
    start = 0 if min_step is None else int(np.searchsorted(steps, min_step, "left"))
    stop = len(steps) if max_step is None else int(np.searchsorted(steps, max_step, "left"))
    return start, stop
