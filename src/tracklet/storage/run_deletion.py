"""Deleting a run with everything only it owns: rows in both history tiers and its export."""

from __future__ import annotations

from tracklet.storage.facade import Storage
from tracklet.storage.history.exports import delete_exports
from tracklet.storage.history.keys import live_key_counts
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata import runs as run_repo


def delete_run(storage: Storage, run_id: int) -> None:
    """Delete the run, its history, events, console, file records and history export.

    Run files live in content-addressed blobs that other runs may share, so their bytes
    stay; the export blob is the run's own and goes once the rows are gone.
    """
    with storage.db.write() as conn:
        export_keys = delete_exports(conn, run_id)
        compaction_queue.drop(conn, run_id)
        run_repo.delete_run(conn, run_id)
    live_key_counts(storage.memo).forget(run_id)
    for key in export_keys:
        storage.blobs.delete(key)
        storage.files.forget(key)
