"""A run's history as one step-ordered sequence, merged from its two tiers.

The live tier (rows in the metadata DB, :mod:`.live`) holds what arrived since the last
compaction; the export (a Parquet blob, :mod:`.parquet`) holds what was compacted when the
run last finished. Normally only one of them has rows. Both do after a finished run is
resumed; then a live row replaces the exported row with the same ``_step`` (a re-sent or
rewritten row), until the next compaction folds them together.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from tracklet.errors import NotFound, Unavailable
from tracklet.storage.history import live
from tracklet.storage.history.exports import Export, get_export
from tracklet.storage.history.parquet import ExportFile
from tracklet.storage.history.rows import Row
from tracklet.storage.metadata.tables import history

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

    def __init__(self, storage: Storage, conn: Connection, run_id: int) -> None:
        self.storage = storage
        self.conn = conn
        self.run_id = run_id
        self.export: Export | None = get_export(conn, run_id)
        self.live_count, self.live_min, self.live_max = live.step_stats(conn, run_id)
        self._file: ExportFile | None = None

    @property
    def has_live(self) -> bool:
        """Whether rows are waiting in the live tier."""
        return self.live_count > 0

    @property
    def fully_exported(self) -> bool:
        """Whether the export alone holds the whole history (so clients may read it)."""
        return self.export is not None and self.live_count == 0

    def file(self) -> ExportFile:
        """The export's reader; Unavailable if a compaction just replaced it (retry)."""
        assert self.export is not None
        if self._file is None:
            try:
                self._file = self.storage.files.open(self.export)
            except NotFound:
                raise Unavailable("run history is being compacted, retry shortly") from None
        return self._file

    def rows(self, min_step: int | None = None, max_step: int | None = None,
             keys: Sequence[str] | None = None) -> Iterator[Row]:
        """Rows with ``min_step <= _step < max_step`` in step order.

        With ``keys``, exported rows hold only those keys (plus ``_step``); live rows are
        always whole, so callers project them.
        """
        live_rows = (Row(step, text=text) for step, _line, text
                     in live.iter_rows(self.conn, self.run_id, min_step, max_step))
        if self.export is None:
            yield from live_rows
            return
        exported = self.file().rows(min_step, max_step, keys)
        if not self.has_live:
            yield from exported
            return
        shadowed = live.live_steps(self.conn, self.run_id, min_step, max_step)
        kept = (r for r in exported if r.step not in shadowed)
        yield from heapq.merge(kept, live_rows, key=lambda r: r.step)

    def first_step(self) -> int | None:
        """The smallest step in the history, or None when it is empty."""
        candidates = [s for s in (self.live_min,
                                  self.export.min_step if self.export else None)
                      if s is not None]
        return min(candidates) if candidates else None

    def last_step(self) -> int | None:
        """The largest step in the history, or None when it is empty."""
        candidates = [s for s in (self.live_max,
                                  self.export.max_step if self.export else None)
                      if s is not None]
        return max(candidates) if candidates else None

    def tail(self, n: int) -> list[str]:
        """The last ``n`` rows as JSON text, oldest first (what resume reads)."""
        if self.export is None:
            return live.tail(self.conn, history, self.run_id, n)
        last = self.last_step()
        if last is None:
            return []
        start = max(self.first_step() or 0, last - 4 * n)
        rows: list[Row] = []
        while True:
            rows = list(self.rows(min_step=start))
            if len(rows) >= n or start <= (self.first_step() or 0):
                break
            start = max(self.first_step() or 0, last - 16 * (last - start + 1))
        return [r.text for r in rows[-n:]]

    def close(self) -> None:
        """Release the export reader."""
        if self._file is not None:
            self._file.close()
            self._file = None
