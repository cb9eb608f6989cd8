"""Writes to the live tier: history, events and console lines stored by line index in the
metadata DB.

Writes overwrite by index (``line[offset + i] = content[i]``), which is what makes a retried
file_stream request harmless. History lines are packed into chunks (:mod:`.chunks`), events
and console lines are one row each. Reads are in :mod:`.read`.

The statements every read or write runs are built once per process (``functools.cache`` and
module constants): they are constant SQL, hold no data of any deployment, and building
one costs about what running it does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Connection, Delete, Select, Table, bindparam, select

from tracklet.domain.records import StreamChunk
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live import chunks
from tracklet.storage.history.live.chunks import INT64_MAX as INT64_MAX
from tracklet.storage.history.live.chunks import Chunk, build, concat, decode
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata.tables import console, events, history_chunks
from tracklet.storage.metadata.upsert import upsert_rows

_H = history_chunks.c


def step_value(row: dict[str, Any]) -> int | None:
    """The ``_step`` of a parsed history row when it is a whole number that fits in 64 bits."""
    step = row.get("_step")
    if isinstance(step, bool) or not isinstance(step, (int, float)):
        return None
    if isinstance(step, float) and not step.is_integer():
        return None
    value = int(step)
    return value if -INT64_MAX - 1 <= value <= INT64_MAX else None


def storable(line: str) -> str:
    """``line`` with NUL characters (which PostgreSQL text cannot hold) replaced by U+FFFD,
    so a program printing one stores the same text on every backend instead of failing."""
    return line.replace("\x00", "\ufffd") if "\x00" in line else line


def step_of(line: str) -> int | None:
    """The ``_step`` of a history line, or None when it has none (or is not an object)."""
    row = loads_object(line)
    return None if row is None else step_value(row)


# -- history writes -----------------------------------------------------------------------


@dataclass
class HistoryWrites:
    """History lines of a batch of requests, written in request order by :meth:`flush` so a
    later request's line replaces an earlier one's at the same index."""

    _pending: list[tuple[int, int, Sequence[int | None], Sequence[str], bool]] = field(
        default_factory=list)

    def add(self, run_id: int, chunk: StreamChunk, steps: Sequence[int | None] | None = None,
            *, known_end: int | None = None) -> tuple[int, int | None]:
        """Queue ``chunk``'s lines; returns (end line index, largest step).

        ``known_end`` is the run's stored line count when the caller keeps it (every stored
        line is below it): a chunk starting there cannot overlap stored lines, which saves
        the lookup. The lines must be valid JSON when ``steps`` are given.
        """
        if steps is None or len(steps) != len(chunk.lines):
            steps = [step_of(line) for line in chunk.lines]
        fresh = known_end is not None and chunk.offset >= known_end
        self._pending.append((run_id, chunk.offset, steps, chunk.lines, not fresh))
        known = [s for s in steps if s is not None]
        return chunk.offset + len(chunk.lines), max(known) if known else None

    def flush(self, conn: Connection) -> None:
        """Write every queued request, in order, then pack the slots they completed."""
        rows: list[dict[str, Any]] = []
        completed: dict[tuple[int, int], None] = {}
        size = chunks.CHUNK_LINES
        for run_id, offset, steps, texts, check in self._pending:
            if not texts:
                continue
            if check:
                _insert(conn, rows)
                rows = []
                _clear_lines(conn, run_id, offset, offset + len(texts) - 1)
            rows.extend(_row(run_id, c) for c in build(offset, steps, texts))
            if offset % size:
                # A request that starts inside a slot and reaches its end completes the
                # smaller chunks earlier requests left there.
                first_slot = chunks.slot_start(offset)
                if first_slot + size <= offset + len(texts):
                    completed[(run_id, first_slot)] = None
        _insert(conn, rows)
        for run_id, first in completed:
            _pack(conn, run_id, first, first + size - 1)
        self._pending.clear()


def write_history(
    conn: Connection,
    run_id: int,
    chunk: StreamChunk,
    steps: Sequence[int | None] | None = None,
) -> tuple[int, int | None]:
    """Store history lines; returns (end line index, largest step written).

    ``steps`` are the lines' ``_step`` values when the caller already parsed them.
    """
    writes = HistoryWrites()
    result = writes.add(run_id, chunk, steps)
    writes.flush(conn)
    return result


def _row(run_id: int, chunk: Chunk) -> dict[str, Any]:
    stepped, lo, hi = chunk.step_range()
    return {"run_id": run_id, "first_line": chunk.first_line, "last_line": chunk.last_line,
            "line_count": len(chunk), "stepped": stepped, "min_step": lo, "max_step": hi,
            "layout": chunk.layout(), "data": chunk.data}


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(history_chunks.insert(), rows)


#: A slot is packed when its last line arrives and it holds at least this many chunks.
#: Packing rewrites the slot's lines once more (about 2 ms per 1,000 lines, inside the
#: ingest transaction) and saves each later read of the slot about 0.07 ms per chunk
#: beyond the first: worth it for the few-line requests of slowly logging runs (a page of
#: 15-line requests reads in 1 ms instead of 5), not for the 100-line and larger requests
#: that carry a busy run's volume (10 chunks read in 1.5 ms instead of 1.2).
PACK_MIN_CHUNKS = 16


@functools.cache
def _slot_queries() -> tuple[Select[Any], Select[Any], Delete]:
    """(chunk ranges, chunks, delete) of a run's chunks starting in ``:first..:last``."""
    where = (_H.run_id == bindparam("run"), _H.first_line >= bindparam("first"),
             _H.first_line <= bindparam("last"))
    return (select(_H.first_line, _H.last_line).where(*where),
            select(_H.first_line, _H.layout, _H.data).where(*where).order_by(_H.first_line),
            history_chunks.delete().where(*where))


def _pack(conn: Connection, run_id: int, first: int, last: int) -> None:
    """Replace the chunks lying within lines ``first..last`` by one, when there are
    :data:`PACK_MIN_CHUNKS` or more."""
    ranges, fetch, delete = _slot_queries()
    # A chunk written before slots existed may start inside and end past ``last``: it
    # stays, and is the one with the largest first line.
    inside = sorted(int(f) for f, end in conn.execute(
        ranges, {"run": run_id, "first": first, "last": last}) if end <= last)
    if len(inside) < PACK_MIN_CHUNKS:
        return
    params = {"run": run_id, "first": first, "last": inside[-1]}
    parts = [decode(layout, data) for _f, layout, data in conn.execute(fetch, params)]
    conn.execute(delete, params)
    _insert(conn, [_row(run_id, concat(parts))])


def _clear_lines(conn: Connection, run_id: int, first: int, last: int) -> None:
    """Remove lines ``first..last`` of the run, keeping the rest of the chunks they are in."""
    overlapping = conn.execute(
        select(_H.first_line, _H.layout, _H.data)
        .where(_H.run_id == run_id, _H.first_line <= last, _H.last_line >= first)
    ).all()
    if overlapping:
        # Renews the run's history token before any chunk changes (the lock order a
        # compaction's deletes use too), so a compaction that exported the old lines
        # leaves the new ones alone.
        compaction_queue.request(conn, [run_id])
    for first_line, layout, data in overlapping:
        chunk = decode(layout, data)
        _replace(conn, run_id, int(first_line), chunk,
                 (chunk.lines < first, chunk.lines > last))


def _replace(conn: Connection, run_id: int, first_line: int, chunk: Chunk,
             keeps: Iterable[np.ndarray]) -> None:
    """Replace the chunk at ``first_line`` by its lines under each mask of ``keeps`` (one
    chunk per non-empty mask; masks must select disjoint line ranges)."""
    conn.execute(history_chunks.delete().where(_H.run_id == run_id,
                                               _H.first_line == first_line))
    _insert(conn, [_row(run_id, chunk.select(keep)) for keep in keeps if keep.any()])


def remove_lines(conn: Connection, run_id: int, *, through_line: int, start: int = 0,
                 drop_stepped: bool = False, above_step: int | None = None,
                 lines: Sequence[int] = (), max_lines: int = 20_000) -> int | None:
    """Remove, among lines ``start..through_line``, the ones listed in ``lines`` and, with
    ``drop_stepped``, every stepped line whose step is above ``above_step`` (every stepped
    line when it is None). Chunks holding about ``max_lines`` lines are rewritten per call;
    returns the line to continue from (pass it as ``start``), None when done.

    Compaction calls it once per transaction, so no transaction grows with the run."""
    listed = np.array(sorted(lines), dtype=np.int64)
    meta = conn.execute(
        select(_H.first_line, _H.line_count)
        .where(_H.run_id == run_id, _H.last_line >= start, _H.first_line <= through_line)
        .order_by(_H.first_line)
    ).all()
    done = 0
    for first_line, count in meta:
        if done >= max_lines:
            return int(first_line)
        done += int(count)
        layout = conn.execute(select(_H.layout).where(
            _H.run_id == run_id, _H.first_line == first_line)).scalar_one()
        index = decode(layout)
        drop = np.isin(index.lines, listed)
        if drop_stepped:
            stepped = index.has_step.copy()
            if above_step is not None:
                stepped &= index.steps > above_step
            drop |= stepped
        drop &= (index.lines >= start) & (index.lines <= through_line)
        if drop.all():
            conn.execute(history_chunks.delete().where(_H.run_id == run_id,
                                                       _H.first_line == first_line))
        elif drop.any():
            data = conn.execute(select(_H.data).where(
                _H.run_id == run_id, _H.first_line == first_line)).scalar_one()
            _replace(conn, run_id, int(first_line), decode(layout, data), (~drop,))
    return None


# -- events and console -------------------------------------------------------------------


def write_events(conn: Connection, run_id: int, chunk: StreamChunk) -> int:
    """Store system-metric lines; returns the end line index."""
    rows = [(run_id, chunk.offset + i, storable(line)) for i, line in enumerate(chunk.lines)]
    _upsert_lines(conn, events, ("run_id", "line", "data"), rows)
    return chunk.offset + len(chunk.lines)


def write_console(conn: Connection, run_id: int, chunk: StreamChunk) -> int:
    """Store console lines (rewrites of earlier lines included); returns the end line index."""
    rows = [(run_id, chunk.offset + i, storable(line)) for i, line in enumerate(chunk.lines)]
    _upsert_lines(conn, console, ("run_id", "line", "text"), rows)
    return chunk.offset + len(chunk.lines)


def line_rows(rows: list[tuple[Any, ...]], run_id: int, chunk: StreamChunk) -> int:
    """Append ``chunk``'s event or console rows to ``rows``; returns the end line index."""
    offset = chunk.offset
    rows.extend((run_id, offset + i, storable(line)) for i, line in enumerate(chunk.lines))
    return offset + len(chunk.lines)


def write_event_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert (run_id, line, data) system-metric rows."""
    _upsert_lines(conn, events, ("run_id", "line", "data"), rows)


def write_console_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert (run_id, line, text) console rows (rewritten lines replace earlier text)."""
    _upsert_lines(conn, console, ("run_id", "line", "text"), rows)


_PLACEHOLDER = {"sqlite": "?", "postgresql": "%s"}


def _upsert_lines(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """INSERT ... ON CONFLICT (run_id, line) DO UPDATE for many lines at once.

    On SQLite and PostgreSQL this is one driver-level executemany: per-row statement
    compilation in SQLAlchemy costs more than the database itself for a 10,000-line request.
    Other databases take the portable path.
    """
    if not rows:
        return
    placeholder = _PLACEHOLDER.get(conn.dialect.name)
    if placeholder is None:
        upsert_rows(conn, table, [dict(zip(columns, r, strict=True)) for r in rows],
                    keys=("run_id", "line"), update=columns[2:])
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns[2:])
    sql = (
        f"INSERT INTO {quote(table.name)} ({names}) "
        f"VALUES ({', '.join([placeholder] * len(columns))}) "
        f"ON CONFLICT ({quote('run_id')}, {quote('line')}) DO UPDATE SET {updates}"
    )
    conn.exec_driver_sql(sql, list(rows))
