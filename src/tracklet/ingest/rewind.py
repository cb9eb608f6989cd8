"""``wandb.init(resume_from="<run>?_step=N")``: rewind a run to step N.

The SDK asks ``rewindRun`` first, then resumes the run and logs from step N+1 at the history
offset the answer gives. The rows after step N are removed on both tiers: live lines above
the step, export parts that start after it, and the part that spans it rewritten with its
rows up to N (under a new blob key: a part never changes in place). The summary is
recomputed from the history that remains: each key's last logged value.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import update

from tracklet.domain.policy import Action, require
from tracklet.domain.records import Run, User
from tracklet.errors import Conflict, InvalidInput, NotFound
from tracklet.storage import Storage
from tracklet.storage.history.export.table import Export, add_export, get_exports, new_blob_key
from tracklet.storage.history.export.writer import write_export
from tracklet.storage.history.live.read import top_line
from tracklet.storage.history.live.write import remove_lines
from tracklet.storage.history.read.keys import live_key_counts
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.strict_json import with_strict_shadows
from tracklet.storage.metadata.tables import history_exports, runs


def rewind_run(storage: Storage, user: User, entity: str, project: str, name: str,
               metric: str, value: float) -> Run:
    """Rewind ``entity/project/name`` to step ``value``; the run as it is afterwards."""
    if metric != "_step":
        raise InvalidInput("resume_from supports only the _step metric")
    if value != value or value < 0 or value >= 2**63:
        raise InvalidInput("resume_from step must be a non-negative number")
    step = int(value)
    with storage.db.read() as conn:
        run = run_repo.find_run_by_path(conn, entity, project, name)
    if run is None:
        raise NotFound(f"run {entity}/{project}/{name} not found")
    require(user, Action.WRITE, run.entity, run.project,
            missing=f"run {entity}/{project}/{name} not found")
    parts, spanning = _rewrite_spanning(storage, run.id, step)
    try:
        dropped = _commit(storage, run.id, step, parts, spanning)
    except BaseException:
        if spanning is not None:
            storage.blobs.delete(spanning.blob_key)
        raise
    live_key_counts(storage.memo).forget(run.id)
    for key in dropped:
        storage.files.forget(key)
        storage.blobs.delete(key)
    _recompute_summary(storage, run.id)
    with storage.db.read() as conn:
        rewound = run_repo.get_run_by_id(conn, run.id)
    assert rewound is not None
    return rewound


def _rewrite_spanning(storage: Storage, run_id: int,
                      step: int) -> tuple[list[Export], Export | None]:
    """The run's parts, and a new blob for the part spanning ``step`` cut at it (or None)."""
    with open_history(storage, run_id) as view:
        parts = list(view.exports)
        cut = next((e for e in parts if e.min_step is not None and e.max_step is not None
                    and e.min_step <= step < e.max_step), None)
        if cut is None:
            return parts, None
        fd, name = tempfile.mkstemp(suffix=".parquet", dir=storage.files.cache_dir())
        os.close(fd)
        tmp = Path(name)
        try:
            summary = write_export(lambda: view.file(cut).rows(None, step + 1), tmp)
            key = new_blob_key(run_id)
            with tmp.open("rb") as fh:
                size = storage.blobs.put(key, fh)
        finally:
            tmp.unlink(missing_ok=True)
    return parts, replace(
        cut, blob_key=key, size_bytes=size, row_count=summary.rows,
        min_step=summary.min_step, max_step=summary.max_step, created_at=time.time(),
        key_stats=dumps_row({k: s.to_json() for k, s in summary.keys.items()}))


def _commit(storage: Storage, run_id: int, step: int, parts: list[Export],
            spanning: Export | None) -> list[str]:
    """Drop the later parts, swap in the cut one and remove later live lines; returns the
    blob keys no part uses any more."""
    with storage.db.write() as conn:
        if [e.blob_key for e in get_exports(conn, run_id)] != [e.blob_key for e in parts]:
            raise Conflict("the run's history changed while rewinding; try again")
        # Renewing the compaction token makes a compaction under way start over.
        compaction_queue.request(conn, [run_id])
        dropped = []
        for export in parts:
            later = export.min_step is not None and export.min_step > step
            if later or (spanning is not None and export.part == spanning.part):
                conn.execute(history_exports.delete().where(
                    history_exports.c.run_id == run_id, history_exports.c.part == export.part))
                dropped.append(export.blob_key)
        if spanning is not None:
            add_export(conn, spanning)
        start: int | None = 0
        last = top_line(conn, run_id)
        while start is not None and last >= 0:
            start = remove_lines(conn, run_id, through_line=last, start=start,
                                 drop_stepped=True, above_step=step)
    return dropped


def _recompute_summary(storage: Storage, run_id: int) -> None:
    summary: dict[str, Any] = {}
    last_step = None
    with open_history(storage, run_id) as view:
        for row in view.rows():
            summary.update(row.data)
            last_step = row.step
    with storage.db.write() as conn:
        values = with_strict_shadows({"summary": dumps_row(summary), "last_step": last_step})
        conn.execute(update(runs).where(runs.c.id == run_id).values(
            revision=runs.c.revision + 1, **values))
