"""The live tier: history, events and console lines stored by line index in the metadata DB.

Writes overwrite by index (``line[offset + i] = content[i]``), which is what makes a retried
file_stream request harmless.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select

from tracklet.domain.records import StreamChunk
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.metadata.tables import console, events, history
from tracklet.storage.metadata.upsert import upsert_rows

INT64_MAX = 2**63 - 1
_STEP_LINE = operator.itemgetter(0, 1)  # (step, line): both integer columns


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


def write_history(
    conn: Connection,
    run_id: int,
    chunk: StreamChunk,
    steps: Sequence[int | None] | None = None,
) -> tuple[int, int | None]:
    """Store history lines; returns (end line index, largest step written).

    ``steps`` are the lines' ``_step`` values when the caller already parsed them.
    """
    if steps is None or len(steps) != len(chunk.lines):
        steps = [step_of(line) for line in chunk.lines]
    known = [s for s in steps if s is not None]
    rows = [
        (run_id, chunk.offset + i, step, storable(line))
        for i, (line, step) in enumerate(zip(chunk.lines, steps, strict=True))
    ]
    _upsert_lines(conn, history, ("run_id", "line", "step", "data"), rows)
    return chunk.offset + len(chunk.lines), max(known) if known else None


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


def history_rows(rows: list[tuple[Any, ...]], run_id: int, chunk: StreamChunk,
                 steps: Sequence[int | None] | None = None) -> tuple[int, int | None]:
    """Append ``chunk``'s history rows to ``rows`` for :func:`write_history_rows`; returns
    (end line index, largest step).

    The lines must have been validated as JSON (which cannot hold a raw NUL character), so
    they are stored as they are.
    """
    if steps is None or len(steps) != len(chunk.lines):
        steps = [step_of(line) for line in chunk.lines]
    offset, n = chunk.offset, len(chunk.lines)
    rows.extend(zip(repeat(run_id, n), range(offset, offset + n), steps, chunk.lines,
                    strict=True))
    known = [s for s in steps if s is not None]
    return offset + n, max(known) if known else None


def line_rows(rows: list[tuple[Any, ...]], run_id: int, chunk: StreamChunk) -> int:
    """Append ``chunk``'s event or console rows to ``rows``; returns the end line index."""
    offset = chunk.offset
    rows.extend((run_id, offset + i, storable(line)) for i, line in enumerate(chunk.lines))
    return offset + len(chunk.lines)


def write_history_rows(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Upsert (run_id, line, step, data) rows, later rows winning at the same index."""
    _upsert_lines(conn, history, ("run_id", "line", "step", "data"), rows)


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


def history_lines(
    conn: Connection,
    run_id: int,
    min_step: int | None = None,
    max_step: int | None = None,
    limit: int | None = None,
) -> list[str]:
    """History lines in line order, optionally limited to ``min_step <= _step < max_step``."""
    q = select(history.c.data).where(history.c.run_id == run_id)
    if min_step is not None:
        q = q.where(history.c.step >= min_step)
    if max_step is not None:
        q = q.where(history.c.step < max_step)
    q = q.order_by(history.c.line)
    if limit is not None:
        q = q.limit(limit)
    return list(conn.execute(q).scalars())


def iter_history_lines(conn: Connection, run_id: int, batch: int = 5000) -> Iterator[str]:
    """Every history line of a run, streamed in line order."""
    after = -1
    while True:
        rows = conn.execute(
            select(history.c.line, history.c.data)
            .where(history.c.run_id == run_id, history.c.line > after)
            .order_by(history.c.line)
            .limit(batch)
        ).all()
        if not rows:
            return
        for _, data in rows:
            yield data
        after = rows[-1][0]


def tail(conn: Connection, table: Any, run_id: int, n: int) -> list[str]:
    """The last ``n`` lines of ``history`` or ``events``, oldest first."""
    rows = conn.execute(
        select(table.c.data).where(table.c.run_id == run_id).order_by(table.c.line.desc()).limit(n)
    ).scalars()
    return list(reversed(list(rows)))


def event_lines(conn: Connection, run_id: int) -> list[str]:
    """Every system-metrics line of a run, in order."""
    return list(
        conn.execute(
            select(events.c.data).where(events.c.run_id == run_id).order_by(events.c.line)
        ).scalars()
    )


def console_lines(
    conn: Connection, run_id: int, after: int = -1, limit: int | None = None
) -> list[tuple[int, str]]:
    """(line index, text) of console lines after index ``after``."""
    q = (
        select(console.c.line, console.c.text)
        .where(console.c.run_id == run_id, console.c.line > after)
        .order_by(console.c.line)
    )
    if limit is not None:
        q = q.limit(limit)
    return [(int(i), t) for i, t in conn.execute(q)]


def count_lines(conn: Connection, table: Any, run_ids: Sequence[int]) -> dict[int, int]:
    """Stored line counts per run (for integrity checks and tests)."""
    rows = conn.execute(
        select(table.c.run_id, func.count())
        .where(table.c.run_id.in_(list(run_ids)))
        .group_by(table.c.run_id)
    )
    return {int(r): int(c) for r, c in rows}


# -- reads for the history read path (step-ordered, streamed) ---------------------------------


def iter_rows(
    conn: Connection,
    run_id: int,
    min_step: int | None = None,
    max_step: int | None = None,
    batch: int = 5000,
) -> Iterator[tuple[int, int, str]]:
    """(step, line, text) of rows with ``min_step <= step < max_step``, by step then line.

    Streams in batches that walk the (run_id, step) index; rows sharing a step are read
    together and ordered by line. Lines without a ``_step`` are not history rows for the
    read path and are skipped.
    """
    lower, inclusive = min_step, True
    while True:
        mode = "" if lower is None else ">=" if inclusive else ">"
        q = _rows_query(max_step is not None, mode, batch)
        rows = conn.execute(q, {"run": run_id, "lo": lower, "hi": max_step}).all()
        if not rows:
            return
        last = int(rows[-1][0])
        full = len(rows) == batch
        # The last step may continue past this batch: read that step on its own.
        ready = [r for r in rows if int(r[0]) != last] if full else list(rows)
        ready.sort(key=_STEP_LINE)
        for step, line, data in ready:
            yield int(step), int(line), data
        if not full:
            return
        for step, line, data in _rows_at_step(conn, run_id, last):
            yield step, line, data
        lower, inclusive = last, False


@functools.lru_cache(maxsize=64)
def _rows_query(upper: bool, lower: str, batch: int) -> Any:
    """:func:`iter_rows`'s statement, built once per shape: history pages run it on every
    request, and building and keying a fresh select costs more than SQLite's part."""
    q = select(history.c.step, history.c.line, history.c.data).where(
        history.c.run_id == bindparam("run"), history.c.step.is_not(None))
    if upper:
        q = q.where(history.c.step < bindparam("hi"))
    if lower == ">=":
        q = q.where(history.c.step >= bindparam("lo"))
    elif lower == ">":
        q = q.where(history.c.step > bindparam("lo"))
    return q.order_by(history.c.step).limit(batch)


def _rows_at_step(conn: Connection, run_id: int,
                  step: int) -> Iterator[tuple[int, int, str]]:
    # No ORDER BY line in SQL: it would steer the planner off the step index onto a scan.
    rows = conn.execute(
        select(history.c.line, history.c.data)
        .where(history.c.run_id == run_id, history.c.step == step)
    ).all()
    for line, data in sorted(rows, key=lambda r: int(r[0])):
        yield step, int(line), data


def rows_at_steps(conn: Connection, run_id: int,
                  steps: Sequence[int]) -> Iterator[tuple[int, int, str]]:
    """(step, line, text) of the rows at ``steps``, by step then line."""
    ordered = sorted(set(steps))
    for i in range(0, len(ordered), 500):
        chunk = ordered[i:i + 500]
        rows = conn.execute(
            select(history.c.step, history.c.line, history.c.data)
            .where(history.c.run_id == run_id, history.c.step.in_(chunk))
            .order_by(history.c.step, history.c.line)
        ).all()
        for step, line, data in rows:
            yield int(step), int(line), data


def step_stats(conn: Connection, run_id: int) -> tuple[int, int | None, int | None]:
    """(row count, smallest step, largest step) of the run's live rows that have a step."""
    count, lo, hi = conn.execute(
        select(func.count(), func.min(history.c.step), func.max(history.c.step))
        .where(history.c.run_id == run_id, history.c.step.is_not(None))
    ).one()
    return int(count), None if lo is None else int(lo), None if hi is None else int(hi)


def top_line(conn: Connection, run_id: int) -> int:
    """The largest history line index of the run, -1 when it has none."""
    value = conn.execute(select(func.max(history.c.line))
                         .where(history.c.run_id == run_id)).scalar_one()
    return -1 if value is None else int(value)


def count_rows(conn: Connection, run_id: int, min_step: int | None = None,
               max_step: int | None = None) -> int:
    """How many stepped live rows have ``min_step <= step < max_step``."""
    q = select(func.count()).where(history.c.run_id == run_id, history.c.step.is_not(None))
    if min_step is not None:
        q = q.where(history.c.step >= min_step)
    if max_step is not None:
        q = q.where(history.c.step < max_step)
    return int(conn.execute(q).scalar_one())


def live_steps(conn: Connection, run_id: int, min_step: int | None = None,
               max_step: int | None = None) -> set[int]:
    """The distinct steps of live rows in ``[min_step, max_step)``."""
    q = select(history.c.step).distinct().where(history.c.run_id == run_id,
                                                history.c.step.is_not(None))
    if min_step is not None:
        q = q.where(history.c.step >= min_step)
    if max_step is not None:
        q = q.where(history.c.step < max_step)
    return {int(s) for s in conn.execute(q).scalars()}


def fingerprint(conn: Connection, run_id: int) -> tuple[int, int, int]:
    """(count, largest line, total length) of stepped live rows: changes when they change."""
    count, top, size = conn.execute(
        select(func.count(), func.coalesce(func.max(history.c.line), -1),
               func.coalesce(func.sum(func.length(history.c.data)), 0))
        .where(history.c.run_id == run_id, history.c.step.is_not(None))
    ).one()
    return int(count), int(top), int(size)
