"""Blob garbage collection on every metadata backend: what is referenced stays, what is not
goes once older than the grace period, and an upload in flight (its blob stored, its row
not yet written) is never collected."""

from __future__ import annotations

import hashlib
import io
import os
import time

import pytest

from tracklet.domain.records import Project, RunFields
from tracklet.ingest.uploads import HashingSpool, store_spool
from tracklet.storage import Storage, blob_gc
from tracklet.storage.metadata import runs as run_repo


@pytest.fixture
def storage_blobs() -> str:
    return "local"  # file modification times can be set back to age a blob


def _age(storage: Storage, key: str, seconds: float) -> None:
    path = storage.blobs.local_path(key)
    assert path is not None
    then = time.time() - seconds
    os.utime(path, (then, then))


def _put(storage: Storage, data: bytes) -> str:
    key = blob_gc.cas_key(hashlib.md5(data).hexdigest())
    storage.blobs.put(key, io.BytesIO(data))
    return key


def test_referenced_blobs_stay_and_old_unreferenced_ones_go(storage: Storage,
                                                           project: Project) -> None:
    kept = _put(storage, b"a run file")
    orphan = _put(storage, b"nobody's")
    young = _put(storage, b"an upload in flight")
    export = "history/1/part.parquet"
    storage.blobs.put(export, io.BytesIO(b"not an export of any run"))
    with storage.db.write() as conn:
        run = run_repo.create_run(conn, project, "r1", None, RunFields())
        run_repo.store_run_file(conn, run.id, "f.txt", kept, "md5", 10, None)
    for key in (kept, orphan, export):
        _age(storage, key, 7200)

    dry = blob_gc.collect(storage, grace_s=3600, dry_run=True)
    assert sorted(dry.keys) == sorted([orphan, export])
    assert all(storage.blobs.exists(k) for k in (kept, orphan, young, export))

    report = blob_gc.collect(storage, grace_s=3600)
    assert sorted(report.keys) == sorted([orphan, export])
    assert (report.referenced, report.young) == (1, 1)
    assert storage.blobs.exists(kept) and storage.blobs.exists(young)
    assert not storage.blobs.exists(orphan) and not storage.blobs.exists(export)


def test_an_upload_reusing_an_old_blob_rewrites_it_so_gc_keeps_it(storage: Storage) -> None:
    data = b"content uploaded long ago, then dropped by its run"
    key = _put(storage, data)
    _age(storage, key, 2 * 24 * 3600)
    # The upload of the same bytes stores nothing new but makes the blob young: its row
    # comes only after this returns, and a collection in between must leave it alone.
    spool = HashingSpool()
    spool.write(data)
    try:
        assert store_spool(storage, spool).key == key
    finally:
        spool.close()
    assert storage.blobs.info(key).modified > time.time() - 60
    assert blob_gc.collect(storage, grace_s=3600).collected == 0
    assert b"".join(storage.blobs.open(key)) == data


def test_a_reference_written_after_the_mark_saves_the_blob(storage: Storage,
                                                          project: Project) -> None:
    key = _put(storage, b"referenced during the sweep")
    _age(storage, key, 7200)
    with storage.db.read() as conn:
        marked, _ = blob_gc.referenced_keys(conn)
    assert key not in marked
    with storage.db.write() as conn:
        run = run_repo.create_run(conn, project, "late", None, RunFields())
        run_repo.store_run_file(conn, run.id, "f.txt", key, "md5", 10, None)
    # The sweep checks again right before deleting.
    assert blob_gc._sweep(storage, key, grace_s=3600) is False
    assert storage.blobs.exists(key)
