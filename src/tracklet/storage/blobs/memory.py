"""In-memory blob store: the twin used by unit tests and ``memory://``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import BinaryIO

from tracklet.errors import NotFound
from tracklet.storage.blobs.base import CHUNK, BlobStore


class MemoryBlobStore(BlobStore):
    """Objects live in a dict; for tests and throwaway servers."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, source: BinaryIO) -> int:
        parts = []
        while chunk := source.read(CHUNK):
            parts.append(chunk)
        data = b"".join(parts)
        with self._lock:
            self._objects[key] = data
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
