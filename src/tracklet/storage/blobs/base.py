"""The blob store seam: opaque keys to immutable byte streams.

Contract (checked by ``tests/storage/test_blobs_contract.py`` against every backend):

* ``put(key, source)`` stores the whole stream under ``key`` atomically: a reader sees either
  the old bytes, or all of the new ones, never a partial object. It reads ``source`` in chunks
  and never holds the whole object in memory. Returns the number of bytes written.
* ``open(key)`` yields the stored bytes in chunks; a missing key raises ``NotFound``.
* ``exists``, ``size`` and ``delete`` do what they say; deleting a missing key is not an error.
* Keys are slash-separated relative paths built by tracklet itself (never user input).
* ``listing(prefix)`` yields every stored object whose key starts with ``prefix`` (its
  size and when it was last written); ``info(key)`` the same for one key (NotFound when
  missing). Garbage collection judges an object's age by it.
* ``local_path(key)`` is a readable local file with the bytes (local disk) or None.
* ``open_range(key, first, last)`` yields the bytes ``first``..``last`` (inclusive, ``last``
  within the object) in chunks; stores that can seek or ask for a range override the
  default, which reads from the start and skips.
* ``presigned_get`` / ``presigned_put`` return a URL the client can use directly (object
  stores), or ``None`` when the server itself must serve the bytes (local disk, memory).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class BlobInfo:
    """A stored object: its key, size and when it was last written (epoch seconds)."""

    key: str
    size: int
    modified: float


class BlobStore(ABC):
    """Where file bytes live."""

    @abstractmethod
    def put(self, key: str, source: BinaryIO) -> int:
        """Store everything readable from ``source`` under ``key``; return the byte count."""

    @abstractmethod
    def open(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Yield the bytes stored under ``key``."""

    def open_range(self, key: str, first: int, last: int, chunk_size: int = CHUNK
                   ) -> Iterator[bytes]:
        """Yield the bytes ``first``..``last`` (inclusive) stored under ``key``."""
        return slice_chunks(self.open(key, chunk_size), first, last)

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether ``key`` holds an object."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes of the object under ``key``; NotFound when missing."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def listing(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every object whose key starts with ``prefix``, in no particular order."""

    @abstractmethod
    def info(self, key: str) -> BlobInfo:
        """Size and last write time of ``key``; NotFound when missing."""

    def local_path(self, key: str) -> Path | None:
        """A file on this machine holding ``key``'s bytes, or None for remote stores.

        Callers only read it (Parquet readers need random access); it may not exist yet.
        """
        return None

    def presigned_get(self, key: str, expires_s: int, content_type: str | None = None,
                      disposition: str | None = None) -> str | None:
        """A URL that serves ``key`` without tracklet in the path, or None.

        ``content_type`` and ``disposition``, when given, are the Content-Type and
        Content-Disposition the response must carry whatever the object was stored with.
        """
        return None

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        """A URL that accepts the bytes of ``key`` without tracklet in the path, or None."""
        return None

    def close(self) -> None:
        """Release connections; the default holds none."""
        return None


def slice_chunks(chunks: Iterator[bytes], first: int, last: int) -> Iterator[bytes]:
    """The bytes ``first``..``last`` (inclusive) of a chunked stream."""
    at = 0
    for chunk in chunks:
        end = at + len(chunk)
        if end > first:
            yield chunk[max(0, first - at):last + 1 - at]
        if end > last:
            return
        at = end
