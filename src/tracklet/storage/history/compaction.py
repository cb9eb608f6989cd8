"""Compaction: when a run ends, its live history rows become a Parquet export.

Steps for one run (claimed from the durable queue in :mod:`..metadata.compaction_queue`):

1. In one read snapshot, note the live tier's fingerprint and write every row of the merged
   history (a previous export plus live rows) to a local Parquet file.
2. Store the file as a new blob.
3. In a write transaction, check that the run is still ended and its live rows unchanged,
   record the export, and delete the live rows it now holds (in batches, so ingest of other
   runs is never blocked for long). Only then is the previous export's blob deleted.

If anything changed in between (the run was resumed), the attempt is dropped and the blob
deleted; the run is queued again when it ends again. Reads stay correct at every point:
a row present in both tiers is served once (see :mod:`.tiers`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from tracklet.domain.runs import RunState
from tracklet.storage.history import live
from tracklet.storage.history.exports import Export, get_export, new_blob_key, save_export
from tracklet.storage.history.keys import live_key_counts
from tracklet.storage.history.parquet import write_export
from tracklet.storage.history.tiers import open_history
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
    try:
        with open_history(storage, run_id) as view:
            if not view.has_live:
                return True
            before = live.fingerprint(view.conn, run_id)
            previous = view.export
            summary = write_export(lambda: view.rows(), tmp)
        key = new_blob_key(run_id)
        with tmp.open("rb") as fh:
            size = storage.blobs.put(key, fh)
    finally:
        tmp.unlink(missing_ok=True)
    export = Export(
        run_id=run_id, blob_key=key, size_bytes=size, row_count=summary.rows,
        min_step=summary.min_step, max_step=summary.max_step,
        key_stats=orjson.dumps({k: s.to_json() for k, s in summary.keys.items()}).decode(),
        created_at=time.time(),
    )
    if not _commit(storage, export, previous, before):
        storage.blobs.delete(key)
        return False
    live_key_counts(storage.memo).forget(run_id)
    if previous is not None:
        storage.blobs.delete(previous.blob_key)
        storage.files.forget(previous.blob_key)
    log.info("compacted history of run %d: %d rows, %d bytes", run_id, summary.rows, size)
    return True


def _commit(storage: Storage, export: Export, previous: Export | None,
            before: tuple[int, int, int]) -> bool:
    _count, top_line, _size = before
    with storage.db.write() as conn:
        run = get_run_by_id(conn, export.run_id)
        current = get_export(conn, export.run_id)
        if (run is None or run.state not in ENDED
                or live.fingerprint(conn, export.run_id) != before
                or (current.blob_key if current else None)
                != (previous.blob_key if previous else None)):
            return False
        save_export(conn, export)
        live.delete_stepped_rows(conn, export.run_id, 0, min(top_line + 1, DELETE_BATCH))
    start = DELETE_BATCH
    while start <= top_line:
        # The export already holds these rows, so deleting them in later transactions
        # never loses data; a reader meanwhile sees them once (live rows win by step).
        with storage.db.write() as conn:
            live.delete_stepped_rows(conn, export.run_id, start, start + DELETE_BATCH)
        start += DELETE_BATCH
    return True


def run_pending(storage: Storage, limit: int = 10) -> int:
    """Compact queued runs (claimed so other processes skip them); returns how many."""
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
