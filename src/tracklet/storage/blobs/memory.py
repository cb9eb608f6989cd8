"""In-memory blob store: the twin used by unit tests and ``memory://``."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import BinaryIO

from tracklet.errors import NotFound
from tracklet.storage.blobs.base import CHUNK, BlobInfo, BlobStore


class MemoryBlobStore(BlobStore):
    """Objects live in a dict; for tests and throwaway servers."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def put(self, key: str, source: BinaryIO) -> int:
        parts = []
        while chunk := source.read(CHUNK):
            parts.append(chunk)
        data = b"".join(parts)
        with self._lock:
            self._objects[key] = data
            self._written[key] = time.time()
        return len(data)

    def open(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        with self._lock:
            data = self._objects.get(key)
        if data is None:
            raise NotFound(f"blob {key!r} not found")
        return iter([data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""])

    def exists(self, key: str) -> bool:
        return key in self._objects

    def size(self, key: str) -> int:
        try:
            return len(self._objects[key])
        except KeyError:
            raise NotFound(f"blob {key!r} not found") from None

    def delete(self, key: str) -> None:
        with self._lock:
            self._objects.pop(key, None)
            self._written.pop(key, None)

    def listing(self, prefix: str = "") -> Iterator[BlobInfo]:
        with self._lock:
            found = [BlobInfo(k, len(v), self._written[k]) for k, v in self._objects.items()
                     if k.startswith(prefix)]
        return iter(found)

    def info(self, key: str) -> BlobInfo:
        with self._lock:
            if key not in self._objects:
                raise NotFound(f"blob {key!r} not found")
            return BlobInfo(key, len(self._objects[key]), self._written[key])
