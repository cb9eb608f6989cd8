"""The BlobStore contract (``storage/blobs/base.py``), checked against every backend."""

from __future__ import annotations

import hashlib
import io
import random
import threading

import httpx
import pytest

from tracklet.errors import NotFound
from tracklet.storage.blobs import BlobStore
from tracklet.storage.blobs.base import slice_chunks

MiB = 1024 * 1024


class Stream:
    """A non-seekable byte source that records how it is read and can fail part-way."""

    def __init__(self, data: bytes, fail_after: int | None = None) -> None:
        self._buf = io.BytesIO(data)
        self.fail_after = fail_after
        self.read_sizes: list[int] = []

    def read(self, size: int = -1) -> bytes:
        self.read_sizes.append(size)
        if self.fail_after is not None and self._buf.tell() >= self.fail_after:
            raise OSError("client went away mid-upload")
        return self._buf.read(size)


def payload(n: int, seed: int = 0) -> bytes:
    """``n`` pseudo-random (incompressible, reproducible) bytes."""
    return random.Random(seed).randbytes(n)


def read_all(store: BlobStore, key: str, chunk_size: int = MiB) -> bytes:
    return b"".join(store.open(key, chunk_size))


def test_put_then_open_returns_the_same_bytes(blob_store: BlobStore) -> None:
    data = payload(300_000)
    assert blob_store.put("runs/1/a.bin", io.BytesIO(data)) == len(data)
    assert read_all(blob_store, "runs/1/a.bin") == data
    assert blob_store.exists("runs/1/a.bin")
    assert blob_store.size("runs/1/a.bin") == len(data)


def test_open_yields_chunks_no_larger_than_asked(blob_store: BlobStore) -> None:
    data = payload(100_000, seed=1)
    blob_store.put("k", io.BytesIO(data))
    chunks = list(blob_store.open("k", chunk_size=4096))
    assert all(0 < len(c) <= 4096 for c in chunks)
    assert b"".join(chunks) == data


def test_empty_object(blob_store: BlobStore) -> None:
    assert blob_store.put("empty", io.BytesIO(b"")) == 0
    assert blob_store.exists("empty")
    assert blob_store.size("empty") == 0
    assert read_all(blob_store, "empty") == b""


def test_put_streams_the_source_in_bounded_reads(blob_store: BlobStore) -> None:
    # Over the S3 multipart threshold (8 MiB): exercises multipart uploads on moto.
    data = payload(17 * MiB + 123, seed=2)
    source = Stream(data)
    assert blob_store.put("big/object", source) == len(data)  # type: ignore[arg-type]
    assert all(0 < size <= 16 * MiB for size in source.read_sizes), source.read_sizes[:10]
    digest = hashlib.sha256()
    for chunk in blob_store.open("big/object"):
        digest.update(chunk)
    assert digest.hexdigest() == hashlib.sha256(data).hexdigest()
    assert blob_store.size("big/object") == len(data)


def test_put_overwrites(blob_store: BlobStore) -> None:
    blob_store.put("k", io.BytesIO(b"old bytes, longer than the new ones"))
    assert blob_store.put("k", io.BytesIO(b"new")) == 3
    assert read_all(blob_store, "k") == b"new"
    assert blob_store.size("k") == 3


@pytest.mark.parametrize("size", [1000, 10 * MiB])
def test_failed_put_leaves_no_partial_object(blob_store: BlobStore, size: int) -> None:
    blob_store.put("kept", io.BytesIO(b"previous"))
    with pytest.raises(OSError, match="mid-upload"):
        blob_store.put("kept", Stream(payload(size), fail_after=size // 2))  # type: ignore[arg-type]
    assert read_all(blob_store, "kept") == b"previous"
    with pytest.raises(OSError, match="mid-upload"):
        blob_store.put("fresh", Stream(payload(size), fail_after=size // 2))  # type: ignore[arg-type]
    assert not blob_store.exists("fresh")
    with pytest.raises(NotFound):
        blob_store.open("fresh")


def test_readers_see_old_or_new_never_a_mix(blob_store: BlobStore) -> None:
    versions = [payload(256 * 1024, seed=s) for s in (10, 11)]
    blob_store.put("hot", io.BytesIO(versions[0]))
    stop = threading.Event()
    seen: list[bytes] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set() and len(seen) < 200:
                seen.append(read_all(blob_store, "hot", chunk_size=64 * 1024))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(20):
            blob_store.put("hot", io.BytesIO(versions[i % 2]))
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    assert seen
    assert all(s in versions for s in seen)


def test_missing_keys(blob_store: BlobStore) -> None:
    assert not blob_store.exists("nope/nothing")
    with pytest.raises(NotFound):
        blob_store.open("nope/nothing")  # raised on the call, not on first iteration
    with pytest.raises(NotFound):
        blob_store.size("nope/nothing")
    blob_store.delete("nope/nothing")  # not an error


def test_delete(blob_store: BlobStore) -> None:
    blob_store.put("a/b/c", io.BytesIO(b"x"))
    blob_store.put("a/b/d", io.BytesIO(b"y"))
    blob_store.delete("a/b/c")
    assert not blob_store.exists("a/b/c")
    with pytest.raises(NotFound):
        blob_store.open("a/b/c")
    assert read_all(blob_store, "a/b/d") == b"y"


@pytest.mark.parametrize(
    "key", ["cas/ab/cd/abcdef0123", "media/images/a b+c=d&e%20ü.png", "x/y/z/deep/er.txt"]
)
def test_keys_are_opaque_paths(blob_store: BlobStore, key: str) -> None:
    blob_store.put(key, io.BytesIO(key.encode()))
    assert read_all(blob_store, key) == key.encode()
    assert blob_store.size(key) == len(key.encode())


@pytest.mark.parametrize("key", ["plain.txt", "media/a b+c=d&e%20ü.png"])
def test_presigned_urls_work_without_credentials(blob_store: BlobStore, key: str) -> None:
    data = payload(50_000, seed=3)
    blob_store.put(key, io.BytesIO(data))
    get_url = blob_store.presigned_get(key, 600)
    put_url = blob_store.presigned_put(key + ".up", 600)
    if get_url is None and put_url is None:
        # Backends without their own HTTP endpoint; tracklet serves the bytes itself.
        assert type(blob_store).__name__ in ("LocalBlobStore", "MemoryBlobStore")
        return
    assert get_url is not None and put_url is not None
    with httpx.Client(timeout=30) as http:
        got = http.get(get_url)
        assert got.status_code == 200, got.text
        assert got.content == data
        assert http.put(put_url, content=data[::-1]).status_code == 200
    assert read_all(blob_store, key + ".up") == data[::-1]



def test_listing_and_info_give_every_object_with_its_size_and_age(blob_store: BlobStore) -> None:
    import time

    before = time.time() - 5
    blob_store.put("cas/aa/bb/one", io.BytesIO(b"1"))
    blob_store.put("cas/cc/dd/two", io.BytesIO(b"22"))
    blob_store.put("history/7/x.parquet", io.BytesIO(b"333"))
    listed = {i.key: i for i in blob_store.listing()}
    assert {k: i.size for k, i in listed.items()} == {
        "cas/aa/bb/one": 1, "cas/cc/dd/two": 2, "history/7/x.parquet": 3}
    assert all(before <= i.modified <= time.time() + 5 for i in listed.values())
    assert sorted(i.key for i in blob_store.listing("cas/")) == ["cas/aa/bb/one",
                                                                 "cas/cc/dd/two"]
    info = blob_store.info("history/7/x.parquet")
    assert (info.key, info.size) == ("history/7/x.parquet", 3)
    blob_store.delete("cas/aa/bb/one")
    assert "cas/aa/bb/one" not in {i.key for i in blob_store.listing()}
    with pytest.raises(NotFound):
        blob_store.info("cas/aa/bb/one")


def test_open_range_yields_the_bytes_asked_for(blob_store: BlobStore) -> None:
    data = bytes(range(256)) * 40
    blob_store.put("r/obj", io.BytesIO(data))
    for first, last in ((0, 0), (6, 7), (13, 14), (500, len(data) - 1), (0, len(data) - 1),
                        (len(data) - 1, len(data) - 1)):
        got = b"".join(blob_store.open_range("r/obj", first, last, chunk_size=7))
        assert got == data[first:last + 1], (first, last)
    with pytest.raises(NotFound):
        b"".join(blob_store.open_range("r/missing", 0, 1))


def test_slice_chunks_cuts_any_chunking() -> None:
    data = bytes(range(100))
    chunks = [data[i:i + 7] for i in range(0, 100, 7)]
    for first, last in ((0, 0), (6, 7), (13, 14), (50, 99), (0, 99), (98, 99)):
        assert b"".join(slice_chunks(iter(chunks), first, last)) == data[first:last + 1]

