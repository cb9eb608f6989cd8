"""A run's history as one step-ordered sequence, merged from its two tiers.

The live tier (rows in the metadata DB, :mod:`..live`) holds what arrived since the run
last ended; the export (immutable Parquet parts in the blob store, :mod:`..export`, with
increasing step ranges) holds what was compacted each time it ended. Normally only one tier
has rows. Both do while a finished run is resumed, and when a client rewrote rows that were
already exported; then a live row replaces the exported row with the same ``_step``.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from tracklet.errors import NotFound, Unavailable
from tracklet.storage.history.export.reader import ExportFile
from tracklet.storage.history.export.table import Export, exports_of_runs, get_exports
from tracklet.storage.history.live import read as live
from tracklet.storage.history.rows import Row

if TYPE_CHECKING:
    from tracklet.storage.facade import Storage


def begin_snapshot(conn: Connection) -> None:
    """Make the rest of this read transaction see one snapshot (PostgreSQL needs asking;
    SQLite's WAL read transactions are snapshots already)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


@contextmanager
def open_history(storage: Storage, run_id: int) -> Iterator[RunHistory]:
    """A consistent read view of ``run_id``'s history for the duration of the block."""
    with storage.db.read() as conn:
        begin_snapshot(conn)
        view = RunHistory(storage, conn, run_id)
        try:
            yield view
        finally:
            view.close()


class RunHistory:
    """Reads of one run's merged history, inside one read transaction."""

    def __init__(self, storage: Storage, conn: Connection, run_id: int,
                 exports: list[Export] | None = None,
                 live_stats: tuple[int, int | None, int | None] | None = None) -> None:
        """``exports`` and ``live_stats`` (:func:`live.step_stats`), when given, were read
        for many runs at once in the same snapshot (``many_histories``)."""
        self.storage = storage
        self.conn = conn
        self.run_id = run_id
        self.exports: list[Export] = get_exports(conn, run_id) if exports is None else exports
        self._live_stats: tuple[int, int | None, int | None] | None = live_stats
        self._files: dict[int, ExportFile] = {}

    def _stats(self) -> tuple[int, int | None, int | None]:
        # Asked for on first use only: a run that was never exported reads its live rows
        # without them, and counting a long live history costs as much as a page of it.
        if self._live_stats is None:
            self._live_stats = live.step_stats(self.conn, self.run_id)
        return self._live_stats

    @property
    def live_count(self) -> int:
        """How many live rows have a step."""
        return self._stats()[0]

    @property
    def live_min(self) -> int | None:
        """The smallest step of the live rows (None when there are none)."""
        return self._stats()[1]

    @property
    def live_max(self) -> int | None:
        """The largest step of the live rows (None when there are none)."""
        return self._stats()[2]

    @property
    def has_live(self) -> bool:
        """Whether rows are waiting in the live tier."""
        return self.live_count > 0

    @property
    def fully_exported(self) -> bool:
        """Whether the export parts alone hold the whole history (clients may read them)."""
        return bool(self.exports) and self.live_count == 0

    @property
    def exported_max_step(self) -> int | None:
        """The largest exported step (parts are ordered, so the last part's)."""
        steps = [e.max_step for e in self.exports if e.max_step is not None]
        return max(steps) if steps else None

    def live_in(self, min_step: int | None, max_step: int | None) -> bool:
        """Whether a live row may have ``min_step <= _step < max_step``."""
        if not self.has_live or self.live_min is None or self.live_max is None:
            return False
        return not ((max_step is not None and max_step <= self.live_min)
                    or (min_step is not None and min_step > self.live_max))

    @property
    def live_after_exports(self) -> bool:
        """Whether every live row comes after the last exported step (a checkpointed
        running run, or a resumed one), so the two tiers never hold the same step."""
        top = self.exported_max_step
        return top is None or self.live_min is None or self.live_min > top

    def file(self, export: Export) -> ExportFile:
        """A part's reader; Unavailable if the blob vanished under us (retry)."""
        reader = self._files.get(export.part)
        if reader is None:
            try:
                reader = self.storage.files.open(export)
            except NotFound:
                raise Unavailable("run history is being compacted, retry shortly") from None
            self._files[export.part] = reader
        return reader

    def overlapping(self, min_step: int | None, max_step: int | None) -> list[Export]:
        """The export parts holding rows with ``min_step <= _step < max_step``."""
        return [e for e in self.exports
                if e.min_step is not None and e.max_step is not None
                and not (max_step is not None and e.min_step >= max_step)
                and not (min_step is not None and e.max_step < min_step)]

    def exported_rows(self, min_step: int | None = None, max_step: int | None = None,
                      keys: Sequence[str] | None = None) -> Iterator[Row]:
        """Rows of the export parts with ``min_step <= _step < max_step``, in step order."""
        for export in self.overlapping(min_step, max_step):
            yield from self.file(export).rows(min_step, max_step, keys)

    def rows(self, min_step: int | None = None, max_step: int | None = None,
             keys: Sequence[str] | None = None) -> Iterator[Row]:
        """Rows with ``min_step <= _step < max_step`` in step order.

        With ``keys``, exported rows hold only those keys (plus ``_step``); live rows are
        always whole, so callers project them.
        """
        live_rows = (Row(step, text=text) for step, _line, text
                     in live.iter_rows(self.conn, self.run_id, min_step, max_step))
        if not self.exports:
            yield from live_rows
            return
        exported = self.exported_rows(min_step, max_step, keys)
        if not self.has_live:
            yield from exported
            return
        top = self.exported_max_step
        if self.live_min is not None and (top is None or self.live_min > top):
            # Live rows only continue after the export (a resumed run): just chain.
            yield from itertools.chain(exported, live_rows)
            return
        shadowed = live.live_steps(self.conn, self.run_id, min_step, max_step)
        kept = (r for r in exported if r.step not in shadowed)
        yield from heapq.merge(kept, live_rows, key=lambda r: r.step)

    def live_texts(self, min_step: int | None = None,
                   max_step: int | None = None) -> Iterator[str]:
        """The JSON text of the live rows with ``min_step <= _step < max_step``, in step
        order: what :meth:`rows` gives as ``row.text`` when the run has no exports."""
        for _step, _line, text in live.iter_rows(self.conn, self.run_id, min_step, max_step):
            yield text

    def exported_records(self, min_step: int | None, max_step: int | None,
                         keys: Sequence[str]) -> list[dict[str, Any]] | None:
        """Every row in ``[min_step, max_step)`` holding all ``keys``, projected to them,
        read column-wise from the exports; None unless the exports hold every row in that
        range and their columns allow it (see :meth:`ExportFile.records`)."""
        if not self.exports or self.live_in(min_step, max_step):
            return None
        out: list[dict[str, Any]] = []
        for export in self.overlapping(min_step, max_step):
            part = self.file(export).records(min_step, max_step, keys)
            if part is None:
                return None
            out.extend(part)
        return out

    def exported_texts(self, min_step: int | None = None,
                       max_step: int | None = None) -> list[str] | None:
        """Every row in ``[min_step, max_step)`` as JSON text (what ``row.text`` of
        :meth:`rows` gives), built column-wise from the exports; None unless the exports
        hold every row in that range and their columns allow it (see
        :meth:`ExportFile.texts`)."""
        if not self.exports or self.live_in(min_step, max_step):
            return None
        out: list[str] = []
        for export in self.overlapping(min_step, max_step):
            part = self.file(export).texts(min_step, max_step)
            if part is None:
                return None
            out.extend(part)
        return out

    def count(self, min_step: int | None = None, max_step: int | None = None) -> int | None:
        """How many rows are in ``[min_step, max_step)``; None while both tiers hold rows
        at overlapping steps (a live row may replace an exported one, so the sum would
        over-count)."""
        if not self.exports:
            return live.count_rows(self.conn, self.run_id, min_step, max_step)
        live_rows = 0
        if self.live_in(min_step, max_step):
            if not self.live_after_exports:
                return None
            live_rows = live.count_rows(self.conn, self.run_id, min_step, max_step)
        return live_rows + sum(self.file(e).count(min_step, max_step)
                               for e in self.overlapping(min_step, max_step))

    def rows_at(self, steps: Sequence[int], keys: Sequence[str] | None = None) -> list[Row]:
        """The rows at ``steps`` (few, e.g. chosen by sampling), in step order."""
        wanted = sorted(set(steps))
        live_rows = [Row(step, text=text) for step, _line, text
                     in live.rows_at_steps(self.conn, self.run_id, wanted)] if self.has_live else []
        shadowed = {r.step for r in live_rows}
        exported = [r for e in self.exports for r in self.file(e).rows_at(wanted, keys)
                    if r.step not in shadowed]
        return sorted([*exported, *live_rows], key=lambda r: r.step)

    def first_step(self) -> int | None:
        """The smallest step in the history, or None when it is empty."""
        candidates = [s for s in (self.live_min, *(e.min_step for e in self.exports))
                      if s is not None]
        return min(candidates) if candidates else None

    def last_step(self) -> int | None:
        """The largest step in the history, or None when it is empty."""
        candidates = [s for s in (self.live_max, self.exported_max_step) if s is not None]
        return max(candidates) if candidates else None

    def tail(self, n: int) -> list[str]:
        """The last ``n`` rows as JSON text, oldest first (what resume reads)."""
        if not self.exports:
            return live.history_tail(self.conn, self.run_id, n)
        first, last = self.first_step(), self.last_step()
        if first is None or last is None:
            return []
        span = 4 * n
        while True:
            start = max(first, last - span)
            rows = list(self.rows(min_step=start))
            if len(rows) >= n or start == first:
                return [r.text for r in rows[-n:]]
            span *= 16

    def close(self) -> None:
        """Release the export readers."""
        for reader in self._files.values():
            reader.close()
        self._files.clear()


def many_histories(storage: Storage, conn: Connection,
                   run_ids: Sequence[int]) -> list[RunHistory]:
    """A view of each run in the caller's snapshot, their export lists and live step
    statistics read in a few queries for all of them instead of two per run."""
    exports = exports_of_runs(conn, run_ids)
    stats = live.step_stats_of_runs(conn, run_ids)
    return [RunHistory(storage, conn, run_id, exports[run_id], stats[run_id])
            for run_id in run_ids]
