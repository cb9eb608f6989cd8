"""Deleting a run with everything only it owns: rows in both history tiers and its export."""

from __future__ import annotations

import time

from sqlalchemy import select

from tracklet.storage.facade import Storage
from tracklet.storage.history.export.table import delete_exports
from tracklet.storage.history.read.keys import live_key_counts
from tracklet.storage.metadata import audit, compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import artifacts, deleted_runs, entities, projects, runs
from tracklet.storage.metadata.upsert import insert_missing


def delete_run(storage: Storage, run_id: int, actor: str | None = None) -> None:
    """Delete the run, its history, events, console, file records and history export
    (``actor``: who asked, for the audit log).

    Run files live in content-addressed blobs that other runs may share, so their bytes
    stay; the export blob is the run's own and goes once the rows are gone.
    """
    with storage.db.write() as conn:
        entity_id = conn.execute(
            select(projects.c.entity_id).join(runs, runs.c.project_id == projects.c.id)
            .where(runs.c.id == run_id)).scalar_one_or_none()
        if entity_id is not None:
            insert_missing(conn, deleted_runs, {"id": run_id, "entity_id": entity_id,
                                                "deleted_at": time.time()}, keys=("id",))
        export_keys = delete_exports(conn, run_id)
        compaction_queue.drop(conn, run_id)
        run_repo.delete_run(conn, run_id)
        audit.record(conn, actor, "run.delete", f"run {run_id}")
    live_key_counts(storage.memo).forget(run_id)
    for key in export_keys:
        storage.blobs.delete(key)
        storage.files.forget(key)


def deleted_run_entity(storage: Storage, run_id: int) -> str | None:
    """The entity a deleted run belonged to, or None when no run with that id was deleted."""
    with storage.db.read() as conn:
        name = conn.execute(
            select(entities.c.name).join(deleted_runs, deleted_runs.c.entity_id == entities.c.id)
            .where(deleted_runs.c.id == run_id)).scalar_one_or_none()
    return None if name is None else str(name)


def logged_by_run(storage: Storage, run_id: int) -> list[int]:
    """The ids of the artifact versions ``run_id`` created that are not deleted."""
    with storage.db.read() as conn:
        return [int(i) for i in conn.execute(
            select(artifacts.c.id).where(artifacts.c.created_by_run_id == run_id,
                                         artifacts.c.state != "DELETED")
            .order_by(artifacts.c.id)).scalars()]
