"""Compaction: when a run ends, its live history rows become a Parquet export part.

Export parts are immutable and their step ranges increase (clients such as the SDK cache
parts by position, so a part must never change). For one run, claimed from the durable
queue (:mod:`..metadata.compaction_queue`):

1. In one read snapshot, note the live tier's fingerprint and sort its rows: rows after the
   last exported step go into a new part, written to a local file; rows at exported steps
   that equal the exported row (a re-sync) are redundant; rows at exported steps that
   differ (a rewrite) stay live, where they override the exported row on every read.
2. Store the new part as a blob.
3. In a write transaction, check that the run is still ended, its live rows unchanged and
   its parts the same, record the part, and delete the rows it now holds plus the redundant
   ones (in batches of lines, so ingest of other runs waits only briefly).

If anything changed in between (the run was resumed), the attempt is dropped with its blob;
the run is queued again when it ends again. Reads are right at every point in between: a
row present in both tiers is served once (see :mod:`.tiers`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from tracklet.domain.runs import RunState
from tracklet.storage.history import live
from tracklet.storage.history.exports import Export, add_export, get_exports, new_blob_key
from tracklet.storage.history.keys import live_key_counts
from tracklet.storage.history.parquet import ExportSummary, write_export
from tracklet.storage.history.rows import Row, dumps_row, same_json
from tracklet.storage.history.tiers import RunHistory, open_history
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata.runs import get_run_by_id

if TYPE_CHECKING:
    from tracklet.storage.facade import Storage

log = logging.getLogger("tracklet.compaction")

ENDED = frozenset({RunState.FINISHED.value, RunState.FAILED.value, RunState.CRASHED.value})
DELETE_BATCH = 20_000


def compact_run(storage: Storage, run_id: int) -> bool:
    """Compact one run's live history; False when the run changed meanwhile (try later).

    A run that is not ended, or has no live rows, needs nothing and counts as done.
    """
    with storage.db.read() as conn:
        run = get_run_by_id(conn, run_id)
        if run is None or run.state not in ENDED:
            return True
    fd, tmp_name = tempfile.mkstemp(suffix=".parquet", dir=storage.files.cache_dir())
    os.close(fd)
    tmp = Path(tmp_name)
    summary: ExportSummary | None = None
    try:
        with open_history(storage, run_id) as view:
            if not view.has_live:
                return True
            before = live.fingerprint(view.conn, run_id)
            parts = [e.blob_key for e in view.exports]
            top = view.exported_max_step
            redundant = _redundant_lines(view, top)
            if view.live_max is not None and (top is None or view.live_max > top):
                summary = write_export(lambda: _rows_after(view, top), tmp)
        export = None
        if summary is not None:
            key = new_blob_key(run_id)
            with tmp.open("rb") as fh:
                size = storage.blobs.put(key, fh)
            export = Export(
                run_id=run_id, part=len(parts), blob_key=key, size_bytes=size,
                row_count=summary.rows, min_step=summary.min_step, max_step=summary.max_step,
                # A logged integer past 64 bits can be a key's min or max: orjson refuses it.
                key_stats=dumps_row({k: s.to_json() for k, s in summary.keys.items()}),
                created_at=time.time(),
            )
    finally:
        tmp.unlink(missing_ok=True)
    if not _commit(storage, run_id, export, parts, top, redundant, before):
        if export is not None:
            storage.blobs.delete(export.blob_key)
        return False
    live_key_counts(storage.memo).forget(run_id)
    if export is not None:
        log.info("compacted history of run %d: part %d, %d rows, %d bytes", run_id,
                 export.part, export.row_count, export.size_bytes)
    return True


def _rows_after(view: RunHistory, top: int | None) -> Iterator[Row]:
    start = None if top is None else top + 1
    return (Row(step, text=text) for step, _line, text
            in live.iter_rows(view.conn, view.run_id, start, None))


def _redundant_lines(view: RunHistory, top: int | None) -> list[int]:
    """Live lines at exported steps whose row equals the exported one."""
    if top is None or view.live_min is None or view.live_min > top:
        return []
    exported = view.exported_rows(view.live_min, top + 1)
    pending: list[Row] = []
    redundant = []
    for step, line, text in live.iter_rows(view.conn, view.run_id, None, top + 1):
        pending = [r for r in pending if r.step >= step]
        for row in exported:
            if row.step >= step:
                pending.append(row)
            if row.step > step:
                break
        data = Row(step, text=text).data
        if any(r.step == step and same_json(r.data, data) for r in pending):
            redundant.append(line)
    return redundant


def _commit(storage: Storage, run_id: int, export: Export | None, parts: list[str],
            top: int | None, redundant: list[int], before: tuple[int, int, int]) -> bool:
    _count, top_line, _size = before
    with storage.db.write() as conn:
        run = get_run_by_id(conn, run_id)
        if (run is None or run.state not in ENDED
                or live.fingerprint(conn, run_id) != before
                or [e.blob_key for e in get_exports(conn, run_id)] != parts):
            return False
        if export is not None:
            add_export(conn, export)
    # The export holds these rows now, so deleting them in later transactions never loses
    # data; a reader in between sees each row once (a live row wins over its export copy).
    # Lines past ``top_line`` arrived after the export was written and stay.
    start: int | None = 0
    while start is not None:
        with storage.db.write() as conn:
            start = live.remove_lines(conn, run_id, through_line=top_line, start=start,
                                      drop_stepped=export is not None, above_step=top,
                                      lines=redundant, max_lines=DELETE_BATCH)
    return True


def run_pending(storage: Storage, limit: int = 10) -> int:
    """Compact queued runs (claimed so other processes skip them); returns how many."""
    with storage.db.read() as conn:
        if not compaction_queue.has_claimable(conn):
            return 0
    with storage.db.write() as conn:
        claimed = compaction_queue.claim(conn, limit)
    done = 0
    for run_id, requested_at in claimed:
        try:
            ok = compact_run(storage, run_id)
        except Exception:
            log.exception("compacting the history of run %d failed", run_id)
            ok = False
        with storage.db.write() as conn:
            if ok:
                compaction_queue.done(conn, run_id, requested_at)
                done += 1
            else:
                compaction_queue.release(conn, run_id)
    return done


def compact_now(storage: Storage, run_id: int) -> bool:
    """Compact ``run_id`` synchronously (CLI, tests, benchmarks), bypassing the queue."""
    ok = compact_run(storage, run_id)
    if ok:
        with storage.db.write() as conn:
            compaction_queue.drop(conn, run_id)
    return ok
