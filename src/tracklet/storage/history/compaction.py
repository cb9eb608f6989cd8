"""Compaction: a run's live history rows become Parquet export parts.

When a run ends, all of its live rows are exported. While it runs, a *checkpoint* exports
the settled part of a long live tier (every line in a completed slot of
:data:`~.live.chunks.CHUNK_LINES`), so charts and scans of a long live run read columns instead
of decoding JSON text, and the live tier stays short. Ingest queues a running run for that
every :data:`CHECKPOINT_ROWS` lines; a checkpoint is written once at least that many rows,
and a quarter of what is exported already, wait past the last exported step (parts grow
geometrically, so a run has few of them).

Export parts are immutable and their step ranges increase (clients such as the SDK cache
parts by position, so a part must never change). For one run, claimed from the durable
queue (:mod:`..metadata.compaction_queue`):

1. In one read snapshot, note the run's history token (the queue entry's ``requested_at``,
   which ingest renews whenever it rewrites stored lines) and the live tier's fingerprint,
   and sort its rows: rows after the last exported step go into a new part, written to a
   local file; rows at exported steps that equal the exported row (a re-sync) are
   redundant; rows at exported steps that differ (a rewrite) stay live, where they override
   the exported row on every read.
2. Store the new part as a blob.
3. In a write transaction, check that the token and the parts are unchanged (and, for an
   ended run, that it is still ended with the same live rows), record the part, and delete
   the rows it now holds plus the redundant ones, in batches of lines so ingest waits only
   briefly, each batch under the same token check.

If anything changed before the part is recorded (a rewrite, a resumed or ended run), the
attempt is dropped with its blob and the run is compacted again later. If a rewrite comes
after, the deletes stop and the remaining copies stay live, where they win. Reads are right
at every point in between: a row present in both tiers is served once (see :mod:`.read.tiers`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tracklet.storage.history.export.table import Export, add_export, get_exports, new_blob_key
from tracklet.storage.history.export.writer import ExportSummary, write_export
from tracklet.storage.history.live.chunks import slot_start
from tracklet.storage.history.live.read import count_rows, fingerprint, iter_rows
from tracklet.storage.history.live.write import remove_lines
from tracklet.storage.history.read.keys import live_key_counts
from tracklet.storage.history.read.tiers import RunHistory, open_history
from tracklet.storage.history.rows import Row, dumps_row, same_json
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata.runs import get_run_by_id

if TYPE_CHECKING:
    from tracklet.storage.facade import Storage

log = logging.getLogger("tracklet.compaction")

ENDED = compaction_queue.ENDED_STATES
DELETE_BATCH = 20_000
#: Live rows past the last exported step that make a running run worth a checkpoint.
CHECKPOINT_ROWS = 20_000
#: ... and they must be at least this fraction of the rows exported already.
CHECKPOINT_SHARE = 0.25


def compact_run(storage: Storage, run_id: int, *,
                checkpoint_rows: int = CHECKPOINT_ROWS) -> bool:
    """Compact one run's live history; False when the run changed meanwhile (try later).

    An ended run is exported whole; a running one gets a checkpoint when at least
    ``checkpoint_rows`` (and :data:`CHECKPOINT_SHARE` of the exported rows) wait past the
    export. A run with nothing to do counts as done.
    """
    fd, tmp_name = tempfile.mkstemp(suffix=".parquet", dir=storage.files.cache_dir())
    os.close(fd)
    tmp = Path(tmp_name)
    summary: ExportSummary | None = None
    try:
        with open_history(storage, run_id) as view:
            run = get_run_by_id(view.conn, run_id)
            if run is None or not view.has_live:
                return True
            ended = run.state in ENDED
            token = compaction_queue.token(view.conn, run_id)
            before = fingerprint(view.conn, run_id)
            parts = [e.blob_key for e in view.exports]
            top = view.exported_max_step
            last_line = before[1]
            if not ended:
                # Only completed slots: ingest never packs their chunks again.
                last_line = slot_start(last_line + 1) - 1
                exported = sum(e.row_count for e in view.exports)
                fresh = count_rows(view.conn, run_id, None if top is None else top + 1)
                if fresh < max(checkpoint_rows, exported * CHECKPOINT_SHARE) or last_line < 0:
                    return True
            redundant = _redundant_lines(view, top, last_line)
            if view.live_max is not None and (top is None or view.live_max > top):
                summary = write_export(lambda: _rows_after(view, top, last_line), tmp)
                if summary.rows == 0:
                    summary = None
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
    if export is None and not redundant:
        return True
    plan = _Plan(export, parts, top, last_line, redundant, before if ended else None, token)
    if not _commit(storage, run_id, plan):
        if export is not None:
            storage.blobs.delete(export.blob_key)
        return False
    live_key_counts(storage.memo).forget(run_id)
    if export is not None:
        log.info("compacted history of run %d%s: part %d, %d rows, %d bytes", run_id,
                 "" if ended else " (checkpoint)", export.part, export.row_count,
                 export.size_bytes)
    return True


def _rows_after(view: RunHistory, top: int | None, last_line: int) -> Iterator[Row]:
    start = None if top is None else top + 1
    return (Row(step, text=text) for step, line, text
            in iter_rows(view.conn, view.run_id, start, None) if line <= last_line)


def _redundant_lines(view: RunHistory, top: int | None, last_line: int) -> list[int]:
    """Live lines up to ``last_line`` at exported steps whose row equals the exported one."""
    if top is None or view.live_min is None or view.live_min > top:
        return []
    exported = view.exported_rows(view.live_min, top + 1)
    pending: list[Row] = []
    redundant = []
    for step, line, text in iter_rows(view.conn, view.run_id, None, top + 1):
        pending = [r for r in pending if r.step >= step]
        for row in exported:
            if row.step >= step:
                pending.append(row)
            if row.step > step:
                break
        if line > last_line:
            continue
        data = Row(step, text=text).data
        if any(r.step == step and same_json(r.data, data) for r in pending):
            redundant.append(line)
    return redundant


@dataclass(frozen=True)
class _Plan:
    """What one compaction read, and what it will record and delete."""

    export: Export | None
    parts: list[str]
    top: int | None
    last_line: int
    redundant: list[int]
    #: The live tier's fingerprint when an ended run is exported whole (None: checkpoint).
    ended_as: tuple[int, int, int] | None
    token: float | None


def _commit(storage: Storage, run_id: int, plan: _Plan) -> bool:
    if not _record(storage, run_id, plan):
        return False
    _delete_exported(storage, run_id, plan)
    return True


def _record(storage: Storage, run_id: int, plan: _Plan) -> bool:
    """Record the new part if nothing changed since the plan was read."""
    with storage.db.write() as conn:
        run = get_run_by_id(conn, run_id)
        if (run is None
                or compaction_queue.token(conn, run_id, lock=True) != plan.token
                or [e.blob_key for e in get_exports(conn, run_id)] != plan.parts):
            return False
        if plan.ended_as is not None and (run.state not in ENDED or
                                          fingerprint(conn, run_id) != plan.ended_as):
            return False
        if plan.export is not None:
            add_export(conn, plan.export)
    return True


def _delete_exported(storage: Storage, run_id: int, plan: _Plan) -> None:
    """Delete the live copies of the rows the recorded part holds, and the redundant rows.

    The export holds these rows now, so deleting them in later transactions never loses
    data; a reader in between sees each row once (a live row wins over its export copy).
    Lines past ``last_line`` were not exported and stay."""
    start: int | None = 0
    while start is not None:
        with storage.db.write() as conn:
            if compaction_queue.token(conn, run_id, lock=True) != plan.token:
                break  # lines were rewritten: what is left stays live, where it wins
            start = remove_lines(conn, run_id, through_line=plan.last_line, start=start,
                                      drop_stepped=plan.export is not None,
                                      above_step=plan.top, lines=plan.redundant,
                                      max_lines=DELETE_BATCH)


class CheckpointPacer:
    """When a process may checkpoint running runs: only while the rest of the process is
    at most ``max_load`` busy (CPU seconds per second, averaged over ``window`` seconds),
    and then with at most ``share`` of one core: after compacting for t CPU seconds,
    checkpoints wait t * (1 - share) / share. Checkpoints are upkeep for faster reads, so
    they yield to ingest: under a saturating load rows stay live, where every read sees
    them, until the load eases. A waiting checkpoint stays queued; the next one takes every
    settled row, so waiting loses nothing. Ended runs are compacted without waiting (and
    their time counts)."""

    def __init__(self, share: float = 0.25, max_load: float = 0.5, window: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] = time.process_time) -> None:
        self.share = share
        self.max_load = max_load
        self.window = window
        self._clock = clock
        self._cpu = cpu
        self._next = clock()
        self._mark = (clock(), cpu(), 0.0)
        self._own = 0.0
        self.load = 0.0

    def ready(self) -> bool:
        """Whether a checkpoint may run now."""
        now = self._clock()
        at, cpu_at, own_at = self._mark
        if now - at >= self.window:
            cpu = self._cpu()
            self.load = max(0.0, (cpu - cpu_at) - (self._own - own_at)) / (now - at)
            self._mark = (now, cpu, self._own)
        return now >= self._next and self.load <= self.max_load

    def spent(self, seconds: float) -> None:
        """Account ``seconds`` of compaction work (CPU time of the compacting thread)."""
        self._own += seconds
        self._next = max(self._next, self._clock()) + seconds * (1 - self.share) / self.share


def run_pending(storage: Storage, limit: int = 10,
                pacer: CheckpointPacer | None = None) -> int:
    """Compact queued runs (claimed so other processes skip them); returns how many.

    With ``pacer``, running runs are left queued while it is not ready."""
    ended_only = pacer is not None and not pacer.ready()
    with storage.db.read() as conn:
        if not compaction_queue.has_claimable(conn, ended_only=ended_only):
            return 0
    with storage.db.write() as conn:
        claimed = compaction_queue.claim(conn, limit, ended_only=ended_only)
    done = 0
    for run_id, requested_at in claimed:
        if pacer is not None and not pacer.ready() and not _ended(storage, run_id):
            with storage.db.write() as conn:
                compaction_queue.release(conn, run_id, attempted=False)
            continue
        started = time.thread_time()
        try:
            ok = compact_run(storage, run_id)
        except Exception:
            log.exception("compacting the history of run %d failed", run_id)
            ok = False
        if pacer is not None:
            pacer.spent(time.thread_time() - started)
        with storage.db.write() as conn:
            if ok:
                compaction_queue.done(conn, run_id, requested_at)
                done += 1
            else:
                compaction_queue.release(conn, run_id)
    return done


def _ended(storage: Storage, run_id: int) -> bool:
    with storage.db.read() as conn:
        run = get_run_by_id(conn, run_id)
    return run is None or run.state in ENDED


def compact_now(storage: Storage, run_id: int, *,
                checkpoint_rows: int = CHECKPOINT_ROWS) -> bool:
    """Compact ``run_id`` synchronously (CLI, tests, benchmarks), bypassing the queue."""
    ok = compact_run(storage, run_id, checkpoint_rows=checkpoint_rows)
    if ok:
        with storage.db.write() as conn:
            compaction_queue.drop(conn, run_id)
    return ok
