"""A blob store that counts its inner store's failures, by operation and error.

:class:`~tracklet.storage.Storage` wraps the store it opens in one, so the server's
``/metrics`` reads the counts from the storage layer (storage imports nothing of the
server). ``NotFound`` is an answer, not a failure, and is not counted; everything else a
call raises is: an unreachable or refusing object store, a full or read-only disk. Errors
while a download or a listing is being read count under ``open`` and ``listing``.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeVar

from tracklet.errors import NotFound
from tracklet.storage.blobs.base import CHUNK, BlobInfo, BlobStore

T = TypeVar("T")


class CountedBlobStore(BlobStore):
    """``inner``'s behaviour unchanged, with :meth:`error_counts` of what it raised."""

    def __init__(self, inner: BlobStore) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._errors: dict[tuple[str, str], int] = defaultdict(int)

    def error_counts(self) -> dict[tuple[str, str], int]:
        """(operation, exception class name) -> failures since the store was opened."""
        with self._lock:
            return dict(self._errors)

    def _count(self, operation: str, exc: BaseException) -> None:
        with self._lock:
            self._errors[(operation, type(exc).__name__)] += 1

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except NotFound:
            raise
        except Exception as exc:
            self._count(operation, exc)
            raise

    def _iterate(self, operation: str, items: Iterator[T]) -> Iterator[T]:
        try:
            yield from items
        except NotFound:
            raise
        except Exception as exc:
            self._count(operation, exc)
            raise

    def put(self, key: str, source: BinaryIO) -> int:
        return self._call("put", lambda: self.inner.put(key, source))

    def open(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        chunks = self._call("open", lambda: self.inner.open(key, chunk_size))
        return self._iterate("open", chunks)

    def open_range(self, key: str, first: int, last: int, chunk_size: int = CHUNK
                   ) -> Iterator[bytes]:
        chunks = self._call("open", lambda: self.inner.open_range(key, first, last,
                                                                  chunk_size))
        return self._iterate("open", chunks)

    def exists(self, key: str) -> bool:
        return self._call("exists", lambda: self.inner.exists(key))

    def size(self, key: str) -> int:
        return self._call("size", lambda: self.inner.size(key))

    def delete(self, key: str) -> None:
        self._call("delete", lambda: self.inner.delete(key))

    def listing(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self._iterate("listing", self._call("listing", lambda: self.inner.listing(prefix)))

    def info(self, key: str) -> BlobInfo:
        return self._call("info", lambda: self.inner.info(key))

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def presigned_get(self, key: str, expires_s: int, content_type: str | None = None,
                      disposition: str | None = None) -> str | None:
        return self._call("presigned_get", lambda: self.inner.presigned_get(
            key, expires_s, content_type, disposition))

    def presigned_put(self, key: str, expires_s: int) -> str | None:
        return self._call("presigned_put", lambda: self.inner.presigned_put(key, expires_s))

    def close(self) -> None:
        self.inner.close()
