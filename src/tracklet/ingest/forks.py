"""``wandb.init(fork_from="<run>?_step=N")``: a new run that starts from another's history.

The SDK creates the fork like any run, with ``config._wandb.value.branch_point`` naming the
parent run and the step, and logs the fork's own rows from step N+1. The fork's history
starts with the parent's rows up to step N: they are written, when the fork is created, as
the fork's first Parquet part (an export part is immutable, so the parent's later changes
do not reach the fork). The parent stays recorded in the fork's config, as W&B keeps it.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracklet.errors import InvalidInput, NotFound
from tracklet.storage import Storage
from tracklet.storage.history.export.table import Export, add_export, get_exports, new_blob_key
from tracklet.storage.history.export.writer import write_export
from tracklet.storage.history.live.read import top_line
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata import runs as run_repo


@dataclass(frozen=True)
class BranchPoint:
    """The run and step a run branches from."""

    run: str
    step: int


def branch_point(config: dict[str, Any]) -> BranchPoint | None:
    """The branch point the SDK put in a run's config, or None."""
    wandb = config.get("_wandb")
    value = wandb.get("value") if isinstance(wandb, dict) else None
    point = value.get("branch_point") if isinstance(value, dict) else None
    if not isinstance(point, dict):
        return None
    run, step = point.get("run_id"), point.get("step")
    if not isinstance(run, str) or isinstance(step, bool) or not isinstance(step, (int, float)):
        raise InvalidInput("config._wandb.branch_point needs a run_id and a numeric step")
    if step != step or step < 0 or step >= 2**63:
        raise InvalidInput("config._wandb.branch_point.step must be a non-negative number")
    return BranchPoint(run, int(step))


def check_parent(storage: Storage, project_id: int | None, point: BranchPoint) -> None:
    """NotFound unless the parent run exists in the fork's project."""
    if project_id is None:
        raise NotFound(f"fork_from: run {point.run!r} not found")
    with storage.db.read() as conn:
        if run_repo.find_run(conn, project_id, point.run) is None:
            raise NotFound(f"fork_from: run {point.run!r} not found in this project")


def start_fork(storage: Storage, fork_id: int, project_id: int, point: BranchPoint) -> None:
    """Give the new run ``fork_id`` the parent's rows up to the branch step, once: a retried
    upsert of a fork that has history already changes nothing."""
    with storage.db.read() as conn:
        parent = run_repo.find_run(conn, project_id, point.run)
        if parent is None:
            raise NotFound(f"fork_from: run {point.run!r} not found in this project")
        if get_exports(conn, fork_id) or top_line(conn, fork_id) >= 0:
            return
    fd, name = tempfile.mkstemp(suffix=".parquet", dir=storage.files.cache_dir())
    os.close(fd)
    tmp = Path(name)
    try:
        with open_history(storage, parent.id) as view:
            summary = write_export(lambda: view.rows(None, point.step + 1), tmp)
        if summary.rows == 0:
            return
        key = new_blob_key(fork_id)
        with tmp.open("rb") as fh:
            size = storage.blobs.put(key, fh)
    finally:
        tmp.unlink(missing_ok=True)
    export = Export(run_id=fork_id, part=0, blob_key=key, size_bytes=size,
                    row_count=summary.rows, min_step=summary.min_step,
                    max_step=summary.max_step,
                    key_stats=dumps_row({k: s.to_json() for k, s in summary.keys.items()}),
                    created_at=time.time())
    with storage.db.write() as conn:
        if get_exports(conn, fork_id) or top_line(conn, fork_id) >= 0:
            storage.blobs.delete(key)
            return
        add_export(conn, export)
