"""Reads of the live tier: history lines by line order and by step order, events and
console lines (see :mod:`.write` for how they are stored).

The statements every read or write runs are built once per process (``functools.cache`` and
module constants): they are constant SQL, hold no data of any deployment, and building
one costs about what running it does.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import Connection, Select, bindparam, func, select

from tracklet.storage.history.live.chunks import INT64_MAX, Chunk, decode
from tracklet.storage.metadata.tables import console, events, history_chunks

_H = history_chunks.c
#: Chunks fetched per query while streaming a run's history.
_FETCH = 16

T = TypeVar("T")
#: What the batch readers gather of a chunk's wanted lines (at the given ascending
#: positions, or all of them): their texts (:meth:`.chunks.Chunk.texts`) or anything else
#: with one item per line, e.g. their decoded values (:class:`.projection.ChunkProjection`).
Extract = Callable[[Chunk, np.ndarray | None], list[T]]


# -- events and console -------------------------------------------------------------------


def tail(conn: Connection, table: Any, run_id: int, n: int) -> list[str]:
    """The last ``n`` lines of ``events``, oldest first."""
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


def console_page(
    conn: Connection, run_id: int, after: int, limit: int, contains: str | None = None
) -> tuple[int, list[tuple[int, str]]]:
    """The run's console line count and up to ``limit`` (line index, text) after index
    ``after``, only those containing ``contains`` (case-insensitive) when given."""
    total = conn.execute(
        select(func.count()).select_from(console).where(console.c.run_id == run_id)
    ).scalar_one()
    q = select(console.c.line, console.c.text).where(
        console.c.run_id == run_id, console.c.line > after)
    if contains:
        q = q.where(func.lower(console.c.text).contains(contains.lower(), autoescape=True))
    rows = conn.execute(q.order_by(console.c.line).limit(limit))
    return int(total), [(int(i), t) for i, t in rows]


def count_lines(conn: Connection, table: Any, run_ids: Sequence[int]) -> dict[int, int]:
    """Stored line counts per run of ``events`` or ``console`` (integrity checks, tests)."""
    rows = conn.execute(
        select(table.c.run_id, func.count())
        .where(table.c.run_id.in_(list(run_ids)))
        .group_by(table.c.run_id)
    )
    return {int(r): int(c) for r, c in rows}


# -- history reads in line order ----------------------------------------------------------


def history_counts(conn: Connection, run_ids: Sequence[int]) -> dict[int, int]:
    """Stored history line counts per run (integrity checks and tests)."""
    rows = conn.execute(
        select(_H.run_id, func.sum(_H.line_count))
        .where(_H.run_id.in_(list(run_ids)))
        .group_by(_H.run_id)
    )
    return {int(r): int(c) for r, c in rows}


def _chunks_by_line(conn: Connection, run_id: int, descending: bool = False,
                    first: int | None = None, last: int | None = None) -> Iterator[Chunk]:
    """The run's chunks holding lines in ``first..last``, in line order (or reverse),
    fetched a few at a time."""
    q = select(_H.first_line, _H.layout, _H.data).where(_H.run_id == run_id)
    if first is not None:
        q = q.where(_H.last_line >= first)
    if last is not None:
        q = q.where(_H.first_line <= last)
    order = _H.first_line.desc() if descending else _H.first_line
    bound: int | None = None
    while True:
        page = q
        if bound is not None:
            page = q.where(_H.first_line < bound if descending else _H.first_line > bound)
        rows = conn.execute(page.order_by(order).limit(_FETCH)).all()
        for _, layout, data in rows:
            yield decode(layout, data)
        if len(rows) < _FETCH:
            return
        bound = int(rows[-1][0])


def iter_history_lines(conn: Connection, run_id: int) -> Iterator[str]:
    """Every history line of a run, streamed in line order."""
    for chunk in _chunks_by_line(conn, run_id):
        yield from chunk.texts()


def history_lines(
    conn: Connection,
    run_id: int,
    min_step: int | None = None,
    max_step: int | None = None,
    limit: int | None = None,
) -> list[str]:
    """History lines in line order, optionally limited to ``min_step <= _step < max_step``."""
    out: list[str] = []
    for chunk in _chunks_by_line(conn, run_id):
        if min_step is None and max_step is None:
            out.extend(chunk.texts())
        else:
            out.extend(chunk.texts(np.flatnonzero(_step_mask(chunk, min_step, max_step))))
        if limit is not None and len(out) >= limit:
            return out[:limit]
    return out


def stepped_lines(conn: Connection, run_id: int, first: int, last: int) -> Iterator[str]:
    """The text of the stepped lines ``first..last``, in line order."""
    for chunk in _chunks_by_line(conn, run_id, first=first, last=last):
        keep = chunk.has_step & (chunk.lines >= first) & (chunk.lines <= last)
        yield from chunk.texts(np.flatnonzero(keep))


def history_tail(conn: Connection, run_id: int, n: int) -> list[str]:
    """The last ``n`` history lines, oldest first."""
    parts: list[list[str]] = []
    have = 0
    for chunk in _chunks_by_line(conn, run_id, descending=True):
        if have >= n:
            break
        parts.append(chunk.texts())
        have += len(chunk)
    lines = [t for part in reversed(parts) for t in part]
    return lines[-n:] if n > 0 else []


def top_line(conn: Connection, run_id: int) -> int:
    """The largest history line index of the run, -1 when it has none."""
    value = conn.execute(select(func.max(_H.last_line))
                         .where(_H.run_id == run_id)).scalar_one()
    return -1 if value is None else int(value)


# -- history reads in step order ----------------------------------------------------------


def _overlapping(lo: int | None, hi: int | None) -> list[Any]:
    """Conditions picking chunks with a stepped line in ``[lo, hi)``."""
    where = [_H.stepped > 0]
    # Bounds past the 64-bit range hold every step (and would not fit a SQL parameter).
    if lo is not None and lo > -INT64_MAX - 1:
        where.append(_H.max_step >= min(lo, INT64_MAX))
    if hi is not None and hi <= INT64_MAX:
        where.append(_H.min_step < max(hi, -INT64_MAX - 1))
    return where


@functools.cache
def _by_step_query(low: bool, high: bool) -> Select[Any]:
    """(first line, smallest step) of a run's chunks with a stepped line from ``:lo``
    (when ``low``) and below ``:hi`` (when ``high``), by smallest step.

    History pages run it once each: built once, as are the fetches of :func:`_load_query`,
    since building and compiling a statement costs about what a page's chunk read does."""
    where = [_H.run_id == bindparam("run"), _H.stepped > 0]
    if low:
        where.append(_H.max_step >= bindparam("lo"))
    if high:
        where.append(_H.min_step < bindparam("hi"))
    return select(_H.first_line, _H.min_step).where(*where).order_by(_H.min_step,
                                                                        _H.first_line)


@functools.cache
def _load_query(n: int, text: bool = True) -> Select[Any]:
    """The chunks (without ``data`` unless ``text``) of run ``:run`` starting at lines
    ``:f0`` .. ``:f{n-1}``."""
    columns = [_H.first_line, _H.layout, *([_H.data] if text else [])]
    return select(*columns).where(
        _H.run_id == bindparam("run"),
        _H.first_line.in_([bindparam(f"f{i}") for i in range(n)]))


def _chunks_by_step(conn: Connection, run_id: int, lo: int | None, hi: int | None,
                    ) -> Iterator[tuple[int, Chunk]]:
    """(smallest step, chunk) of the chunks with a stepped line in ``[lo, hi)``, by
    smallest step."""
    params: dict[str, int] = {"run": run_id}
    # Bounds past the 64-bit range hold every step (and would not fit a SQL parameter).
    if lo is not None and lo > -INT64_MAX - 1:
        params["lo"] = min(lo, INT64_MAX)
    if hi is not None and hi <= INT64_MAX:
        params["hi"] = max(hi, -INT64_MAX - 1)
    meta = conn.execute(_by_step_query("lo" in params, "hi" in params), params).all()
    floors = {int(f): int(m) for f, m in meta}
    for first_line, chunk in _load(conn, run_id, list(floors)):
        yield floors[first_line], chunk


def _load(conn: Connection, run_id: int, firsts: list[int],
          text: bool = True) -> Iterator[tuple[int, Chunk]]:
    """(first line, chunk) of the chunks starting at ``firsts``, in that order, fetched a
    few at a time; without their text (only lines and steps) unless ``text``."""
    for i in range(0, len(firsts), _FETCH):
        part = firsts[i:i + _FETCH]
        params = {"run": run_id, **{f"f{j}": f for j, f in enumerate(part)}}
        loaded = {int(row[0]): row[1:]
                  for row in conn.execute(_load_query(len(part), text), params)}
        for first_line in part:
            found = loaded.get(first_line)
            if found is not None:
                yield first_line, decode(*found)


def first_steps(conn: Connection, run_id: int, limit: int) -> list[int]:
    """The steps of the first ``limit`` stepped live rows in step order (a step logged on
    several lines comes as often), read from the chunks' layouts without their text."""
    meta = conn.execute(_by_step_query(False, False), {"run": run_id}).all()
    firsts = [int(f) for f, _m in meta]
    floors = [int(m) for _f, m in meta]
    held: list[np.ndarray] = []
    count = 0
    for i, (_first, chunk) in enumerate(_load(conn, run_id, firsts, text=False)):
        held.append(chunk.steps[chunk.has_step])
        count += len(held[-1])
        if count >= limit and i + 1 < len(floors):
            # Chunks come by smallest step: once ``limit`` steps are held, a later chunk
            # can only add steps at or above the limit-th smallest held one.
            kth = np.partition(np.concatenate(held), limit - 1)[limit - 1]
            if floors[i + 1] >= kth:
                break
    if not held:
        return []
    return np.sort(np.concatenate(held))[:limit].tolist()  # type: ignore[no-any-return]


def _step_mask(chunk: Chunk, lo: int | None, hi: int | None) -> np.ndarray:
    mask = chunk.has_step.copy()
    if lo is not None:
        mask &= chunk.steps >= lo
    if hi is not None:
        mask &= chunk.steps < hi
    return mask


def _take(chunk: Chunk, lo: int | None, hi: int | None, steps: list[np.ndarray],
          lines: list[np.ndarray], items: list[T], extract: Extract[T]) -> int:
    """Append the chunk's lines with a step in [lo, hi] to the batch being gathered (their
    ``extract``); how many it appended."""
    mask = _step_mask(chunk, lo, hi)
    if mask.all():  # the usual case: every line of the chunk is wanted
        steps.append(chunk.steps)
        lines.append(chunk.lines)
        items.extend(extract(chunk, None))
        return len(chunk)
    index = np.flatnonzero(mask)
    if len(index):
        steps.append(chunk.steps[index])
        lines.append(chunk.lines[index])
        items.extend(extract(chunk, index))
    return len(index)


def iter_batches(conn: Connection, run_id: int, min_step: int | None = None,
                 max_step: int | None = None, batch: int = 5000,
                 ) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:
    """(steps, lines, texts) of the stepped lines with ``min_step <= step < max_step``, in
    batches of about ``batch`` rows ordered by step then line.

    Chunks are read in order of their smallest step, so a row is final (no later chunk can
    sort before it) once its step is below the next chunk's smallest step; memory holds about
    one batch plus one chunk.
    """
    return iter_batches_as(Chunk.texts, conn, run_id, min_step, max_step, batch)


def iter_batches_as(extract: Extract[T], conn: Connection, run_id: int,
                    min_step: int | None = None, max_step: int | None = None,
                    batch: int = 5000) -> Iterator[tuple[np.ndarray, np.ndarray, list[T]]]:
    """:func:`iter_batches` giving each line's ``extract`` instead of its text."""
    steps: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    items: list[T] = []
    held = 0
    for floor, chunk in _chunks_by_step(conn, run_id, min_step, max_step):
        if held >= batch:
            yield from _release(steps, lines, items, floor)
            held = len(items)
        held += _take(chunk, min_step, max_step, steps, lines, items, extract)
    yield from _release(steps, lines, items, None)


#: Runs named by one statement of :func:`iter_batches_of_runs_as` (bound parameters per query).
RUNS_PER_QUERY = 1000


@functools.cache
def _runs_chunks_query(low: bool, high: bool) -> Select[Any]:
    """The stepped chunks of the runs ``:runs`` (from ``:lo`` / below ``:hi``), by run
    then smallest step."""
    where = [_H.run_id.in_(bindparam("runs", expanding=True)), _H.stepped > 0]
    if low:
        where.append(_H.max_step >= bindparam("lo"))
    if high:
        where.append(_H.min_step < bindparam("hi"))
    return select(_H.run_id, _H.min_step, _H.layout, _H.data).where(*where).order_by(
        _H.run_id, _H.min_step, _H.first_line)


def iter_batches_of_runs_as(extract: Extract[T], conn: Connection, run_ids: Sequence[int],
                            min_step: int | None = None, max_step: int | None = None,
                            batch: int = 5000,
                            ) -> Iterator[tuple[int, np.ndarray, np.ndarray, list[T]]]:
    """(run id, steps, lines, items) of the stepped lines of many runs with ``min_step <=
    step < max_step``, each line given as its ``extract``: :func:`iter_batches_as` of each
    run, in run id order, read by one statement per :data:`RUNS_PER_QUERY` runs instead of
    two or more per run (a chart of a thousand running runs). The statement's rows are
    streamed, so memory holds about one batch plus one chunk, as :func:`iter_batches` does."""
    ids = sorted(set(run_ids))
    params: dict[str, int] = {}
    if min_step is not None and min_step > -INT64_MAX - 1:
        params["lo"] = min(min_step, INT64_MAX)
    if max_step is not None and max_step <= INT64_MAX:
        params["hi"] = max(max_step, -INT64_MAX - 1)
    for i in range(0, len(ids), RUNS_PER_QUERY):
        part = ids[i:i + RUNS_PER_QUERY]
        query = _runs_chunks_query("lo" in params, "hi" in params)
        rows = conn.execution_options(yield_per=64).execute(query, {**params, "runs": part})
        current: int | None = None
        steps: list[np.ndarray] = []
        lines: list[np.ndarray] = []
        items: list[T] = []
        held = 0
        for run_id, floor, layout, data in rows:
            if run_id != current:
                if current is not None:
                    for out in _release(steps, lines, items, None):
                        yield (current, *out)
                current, held = int(run_id), 0
            elif held >= batch:
                for out in _release(steps, lines, items, int(floor)):
                    yield (int(run_id), *out)
                held = len(items)
            held += _take(decode(layout, data), min_step, max_step, steps, lines, items,
                          extract)
        if current is not None:
            for out in _release(steps, lines, items, None):
                yield (current, *out)


def _release(steps: list[np.ndarray], lines: list[np.ndarray], items: list[T],
             below: int | None) -> Iterator[tuple[np.ndarray, np.ndarray, list[T]]]:
    """Yield the held rows with a step below ``below`` (all when None) in (step, line)
    order and keep the rest in the lists."""
    if not items:
        return
    s = np.concatenate(steps)
    ln = np.concatenate(lines)
    if len(s) > 1 and not bool(np.all((s[1:] > s[:-1]) | ((s[1:] == s[:-1])
                                                          & (ln[1:] > ln[:-1])))):
        order = np.lexsort((ln, s))
        s, ln = s[order], ln[order]
        ordered = [items[i] for i in order.tolist()]
    else:
        ordered = list(items)
    cut = len(s) if below is None else int(np.searchsorted(s, below, side="left"))
    steps.clear()
    lines.clear()
    items.clear()
    if cut < len(s):
        steps.append(s[cut:])
        lines.append(ln[cut:])
        items.extend(ordered[cut:])
    if cut:
        yield s[:cut], ln[:cut], ordered[:cut]


def iter_rows(
    conn: Connection,
    run_id: int,
    min_step: int | None = None,
    max_step: int | None = None,
    batch: int = 5000,
) -> Iterator[tuple[int, int, str]]:
    """(step, line, text) of rows with ``min_step <= step < max_step``, by step then line.

    Lines without a ``_step`` are not history rows for the read path and are skipped.
    """
    for steps, lines, texts in iter_batches(conn, run_id, min_step, max_step, batch):
        yield from zip(steps.tolist(), lines.tolist(), texts, strict=True)


def rows_at_steps(conn: Connection, run_id: int,
                  steps: Sequence[int]) -> Iterator[tuple[int, int, str]]:
    """(step, line, text) of the rows at ``steps``, by step then line."""
    wanted = sorted(set(steps))
    if not wanted:
        return
    meta = conn.execute(
        select(_H.first_line, _H.min_step, _H.max_step)
        .where(_H.run_id == run_id, *_overlapping(wanted[0], wanted[-1] + 1))
    ).all()
    # Only chunks whose step range holds a wanted step are opened.
    firsts = [int(f) for f, lo, hi in meta
              if bisect.bisect_right(wanted, int(hi)) > bisect.bisect_left(wanted, int(lo))]
    target = np.array(wanted, dtype=np.int64)
    found: list[tuple[int, int, str]] = []
    for _, chunk in _load(conn, run_id, firsts):
        index = np.flatnonzero(chunk.has_step & np.isin(chunk.steps, target))
        found.extend(zip(chunk.steps[index].tolist(), chunk.lines[index].tolist(),
                         chunk.texts(index), strict=True))
    found.sort(key=lambda r: (r[0], r[1]))
    yield from found


def step_stats(conn: Connection, run_id: int) -> tuple[int, int | None, int | None]:
    """(row count, smallest step, largest step) of the run's live rows that have a step."""
    count, lo, hi = conn.execute(_STEP_STATS, {"run": run_id}).one()
    return int(count), None if lo is None else int(lo), None if hi is None else int(hi)


def step_stats_of_runs(conn: Connection, run_ids: Sequence[int]
                       ) -> dict[int, tuple[int, int | None, int | None]]:
    """:func:`step_stats` of many runs in a few queries (a chart of many runs)."""
    out: dict[int, tuple[int, int | None, int | None]] = dict.fromkeys(run_ids, (0, None, None))
    ids = list(out)
    for i in range(0, len(ids), 500):
        query = (select(_H.run_id, func.sum(_H.stepped), func.min(_H.min_step),
                        func.max(_H.max_step))
                 .where(_H.run_id.in_(ids[i:i + 500]), _H.stepped > 0).group_by(_H.run_id))
        for run_id, count, lo, hi in conn.execute(query):
            out[run_id] = (int(count or 0), None if lo is None else int(lo),
                           None if hi is None else int(hi))
    return out


# Built once: every history read asks it, and building it cost more than answering it.
_STEP_STATS = (select(func.coalesce(func.sum(_H.stepped), 0), func.min(_H.min_step),
                      func.max(_H.max_step))
               .where(_H.run_id == bindparam("run"), _H.stepped > 0))


def _layouts(conn: Connection, run_id: int, lo: int | None,
             hi: int | None) -> Iterator[Chunk]:
    """The line indexes and steps (no text) of chunks with a stepped line in ``[lo, hi)``."""
    for (layout,) in conn.execute(
        select(_H.layout).where(_H.run_id == run_id, *_overlapping(lo, hi))
    ):
        yield decode(layout)


def count_rows(conn: Connection, run_id: int, min_step: int | None = None,
               max_step: int | None = None) -> int:
    """How many stepped live rows have ``min_step <= step < max_step``."""
    if min_step is None and max_step is None:
        return step_stats(conn, run_id)[0]
    return sum(int(_step_mask(c, min_step, max_step).sum())
               for c in _layouts(conn, run_id, min_step, max_step))


def live_steps(conn: Connection, run_id: int, min_step: int | None = None,
               max_step: int | None = None) -> set[int]:
    """The distinct steps of live rows in ``[min_step, max_step)``."""
    out: set[int] = set()
    for chunk in _layouts(conn, run_id, min_step, max_step):
        out.update(chunk.steps[_step_mask(chunk, min_step, max_step)].tolist())
    return out


def fingerprint(conn: Connection, run_id: int) -> tuple[int, int, int]:
    """(line count, largest line, total length) of the live history: changes when it
    changes."""
    count, top, size = conn.execute(
        select(func.coalesce(func.sum(_H.line_count), 0),
               func.coalesce(func.max(_H.last_line), -1),
               func.coalesce(func.sum(func.length(_H.data)), 0))
        .where(_H.run_id == run_id)
    ).one()
    return int(count), int(top), int(size)
