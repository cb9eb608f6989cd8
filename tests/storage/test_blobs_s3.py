"""What is particular to the S3 blob store: URL parsing, prefixes, error mapping."""

from __future__ import annotations

import io
import os
import socket
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.conftest import S3_TEST_ENV, S3Server, start_s3_endpoint, stop_s3_endpoint
from tracklet.errors import StoreUnusable, Unavailable
from tracklet.storage.blobs import open_blob_store
from tracklet.storage.blobs.s3 import S3BlobStore

pytestmark = pytest.mark.s3


def test_open_blob_store_parses_bucket_and_prefix(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    store = open_blob_store(f"s3://{bucket}/team/blobs/", endpoint_url=s3_server.endpoint_url)
    assert isinstance(store, S3BlobStore)
    store.put("cas/00/11/0011", io.BytesIO(b"bytes"))
    listed = s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["team/blobs/cas/00/11/0011"]
    store.close()


def test_prefixes_isolate_stores_sharing_a_bucket(s3_server: S3Server) -> None:
    bucket = s3_server.create_bucket()
    a = S3BlobStore(bucket, "a", endpoint_url=s3_server.endpoint_url)
    b = S3BlobStore(bucket, "b", endpoint_url=s3_server.endpoint_url)
    bare = S3BlobStore(bucket, "", endpoint_url=s3_server.endpoint_url)
    a.put("k", io.BytesIO(b"from a"))
    assert not b.exists("k")
    assert b"".join(bare.open("a/k")) == b"from a"
    for s in (a, b, bare):
        s.close()


def test_a_bucketless_url_is_rejected() -> None:
    with pytest.raises(StoreUnusable, match="bucket"):
        open_blob_store("s3:///just/a/prefix")


def test_a_missing_bucket_is_reported_when_the_store_opens(s3_server: S3Server) -> None:
    with pytest.raises(StoreUnusable, match=r"'no-such-bucket-here' at .* does not exist"):
        S3BlobStore("no-such-bucket-here", endpoint_url=s3_server.endpoint_url)


def test_an_unreachable_endpoint_is_reported_at_open(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in S3_TEST_ENV.items():  # signed, so the connection is what fails
        monkeypatch.setenv(name, value)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with pytest.raises(StoreUnusable, match=f"cannot reach the S3 endpoint .*{closed}"):
        S3BlobStore("b", endpoint_url=closed)


def test_missing_credentials_are_reported_at_open(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(StoreUnusable, match="no S3 credentials"):
        S3BlobStore("b", endpoint_url="http://127.0.0.1:9")


def test_an_object_store_going_away_is_unavailable_not_a_crash(tmp_path: Path) -> None:
    endpoint = start_s3_endpoint(tmp_path)
    try:
        server = S3Server(endpoint)
        store = S3BlobStore(server.create_bucket(), endpoint_url=endpoint)
        store.put("k", io.BytesIO(b"x"))
    finally:
        stop_s3_endpoint(tmp_path)
    for operation in (lambda: store.put("k2", io.BytesIO(b"y")), lambda: store.open("k"),
                      lambda: store.exists("k"), lambda: store.size("k"),
                      lambda: store.delete("k")):
        with pytest.raises(Unavailable):
            operation()
    store.close()


def test_presigned_lifetime_is_capped_at_the_sigv4_maximum(s3_server: S3Server) -> None:
    store = S3BlobStore(s3_server.create_bucket(), endpoint_url=s3_server.endpoint_url)
    url = store.presigned_get("k", 30 * 24 * 3600)
    assert url is not None
    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == [str(7 * 24 * 3600)]
    store.close()
