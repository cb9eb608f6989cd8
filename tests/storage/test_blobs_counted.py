"""CountedBlobStore: what a real failing store raises is counted by operation and error,
and passed on unchanged; a missing object is not a failure."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import S3_TEST_ENV, start_s3_endpoint, stop_s3_endpoint
from tracklet.errors import NotFound, Unavailable
from tracklet.storage.blobs import LocalBlobStore
from tracklet.storage.blobs.counted import CountedBlobStore


def test_a_local_store_that_cannot_write_or_read(tmp_path: Path) -> None:
    store = CountedBlobStore(LocalBlobStore(tmp_path / "blobs"))
    assert store.put("a/b", io.BytesIO(b"bytes")) == 5
    assert b"".join(store.open("a/b")) == b"bytes"
    with pytest.raises(NotFound):
        store.open("a/missing")
    with pytest.raises(NotFound):
        store.size("a/missing")
    assert store.error_counts() == {}
    # The staging folder is a file now: every write fails in the operating system.
    shutil.rmtree(tmp_path / "blobs" / ".tmp")
    (tmp_path / "blobs" / ".tmp").write_bytes(b"")
    for _ in range(2):
        with pytest.raises(NotADirectoryError):
            store.put("a/c", io.BytesIO(b"more"))
    # A key whose path is a folder cannot be read.
    with pytest.raises(IsADirectoryError):
        store.open("a")
    assert store.error_counts() == {("put", "NotADirectoryError"): 2,
                                    ("open", "IsADirectoryError"): 1}
    assert b"".join(store.open("a/b")) == b"bytes", "reads of what is there still work"


@pytest.fixture
def stoppable_s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """An S3 endpoint (moto) of this test's own, which the test may stop."""
    for name, value in S3_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    folder = tmp_path / "moto"
    folder.mkdir()
    url = start_s3_endpoint(folder)
    yield url, folder
    stop_s3_endpoint(folder)


@pytest.mark.s3
def test_an_s3_store_whose_endpoint_stopped(stoppable_s3: tuple[str, Path]) -> None:
    import boto3

    from tracklet.storage.blobs.s3 import S3BlobStore

    url, folder = stoppable_s3
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="counted")
    store = CountedBlobStore(S3BlobStore(bucket="counted", prefix="p", endpoint_url=url))
    store.put("k", io.BytesIO(b"x" * 10))
    assert [b.key for b in store.listing()] == ["k"]
    assert store.error_counts() == {}
    stop_s3_endpoint(folder)
    with pytest.raises(Unavailable):
        store.open("k")
    with pytest.raises(Unavailable):
        list(store.listing())  # a listing fails while it is read
    assert store.error_counts() == {("open", "Unavailable"): 1, ("listing", "Unavailable"): 1}
    store.close()
