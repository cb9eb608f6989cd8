"""Uploaded run files: content-addressed blobs and what wandb-metadata.json fills in."""

from __future__ import annotations

import io

import orjson
import pytest

from tracklet.domain.records import RunFields, User
from tracklet.errors import NotFound
from tracklet.ingest.runs import UpsertRequest, upsert_run
from tracklet.ingest.uploads import cas_key, metadata_columns, store_run_file
from tracklet.storage import Storage
from tracklet.storage.metadata import runs as run_repo

METADATA = {
    "os": "Linux", "python": "CPython 3.11.7", "host": "gpu-box-7",
    "program": "/home/u/train.py", "codePath": "train.py",
    "git": {"remote": "https://example.com/r.git", "commit": "a" * 40},
}


def test_metadata_columns_take_host_program_and_git() -> None:
    text = orjson.dumps(METADATA).decode()
    assert metadata_columns(text) == {
        "metadata": text, "host": "gpu-box-7", "program": "/home/u/train.py",
        "commit_hash": "a" * 40, "repo": "https://example.com/r.git",
    }


@pytest.mark.parametrize("text", ["", "[]", "{bad", '{"git": 5, "host": 7}'])
def test_metadata_columns_ignore_what_is_not_there(text: str) -> None:
    columns = metadata_columns(text)
    assert set(columns) <= {"metadata"}


def test_store_run_file_fills_missing_columns_only(storage: Storage, user: User) -> None:
    run, _ = upsert_run(storage, user, UpsertRequest(
        None, "files001", "p", None, RunFields(host="from-upsert")))
    data = orjson.dumps(METADATA)
    blob = store_run_file(storage, io.BytesIO(data), run.id, "wandb-metadata.json")
    assert blob.key == cas_key(__import__("hashlib").md5(data).hexdigest())
    assert b"".join(storage.blobs.open(blob.key)) == data
    with storage.db.read() as conn:
        stored = run_repo.get_run_by_id(conn, run.id)
        assert stored is not None
        files = run_repo.list_run_files(conn, run.id)
    assert stored.host == "from-upsert", "what UpsertBucket sent wins"
    assert (stored.program, stored.commit, stored.repo) == (
        "/home/u/train.py", "a" * 40, "https://example.com/r.git")
    assert stored.metadata == data.decode()
    assert [(f.name, f.size, f.uploaded) for f in files] == [("wandb-metadata.json", len(data),
                                                               True)]


def test_identical_bytes_are_stored_once(storage: Storage, user: User) -> None:
    run, _ = upsert_run(storage, user, UpsertRequest(None, "files002", "p", None, RunFields()))
    a = store_run_file(storage, io.BytesIO(b"same"), run.id, "a.txt")
    b = store_run_file(storage, io.BytesIO(b"same"), run.id, "b/c.txt")
    assert a.key == b.key


def test_upload_for_a_deleted_run_is_not_found(storage: Storage, user: User) -> None:
    with pytest.raises(NotFound):
        store_run_file(storage, io.BytesIO(b"x"), 424242, "a.txt")
