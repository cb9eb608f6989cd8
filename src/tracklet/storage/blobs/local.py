"""Blob store on a local folder: atomic writes through a temporary file and rename."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from tracklet.errors import NotFound
from tracklet.storage.blobs.base import CHUNK, BlobInfo, BlobStore


class LocalBlobStore(BlobStore):
    """Objects are files under ``root``; keys map to relative paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / ".tmp").mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise NotFound(f"blob key {key!r} is outside the store")
        return path

    def put(self, key: str, source: BinaryIO) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root / ".tmp")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return written

    def open(self, key: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        path = self._path(key)
        try:
            fh = path.open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {key!r} not found") from None
        return _chunks(fh, chunk_size)

    def open_range(self, key: str, first: int, last: int, chunk_size: int = CHUNK
                   ) -> Iterator[bytes]:
        try:
            fh = self._path(key).open("rb")
        except FileNotFoundError:
            raise NotFound(f"blob {key!r} not found") from None
        fh.seek(first)
        return _limited(fh, last - first + 1, chunk_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {key!r} not found") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def local_path(self, key: str) -> Path | None:
        return self._path(key)

    def listing(self, prefix: str = "") -> Iterator[BlobInfo]:
        root = self.root.resolve()
        for folder, dirs, files in os.walk(root):
            if Path(folder) == root:
                dirs[:] = [d for d in dirs if d != ".tmp"]  # uploads being written
            for name in files:
                path = Path(folder) / name
                key = path.relative_to(root).as_posix()
                if key.startswith(prefix):
                    try:
                        st = path.stat()
                    except FileNotFoundError:  # deleted meanwhile
                        continue
                    yield BlobInfo(key, st.st_size, st.st_mtime)

    def info(self, key: str) -> BlobInfo:
        try:
            st = self._path(key).stat()
        except FileNotFoundError:
            raise NotFound(f"blob {key!r} not found") from None
        return BlobInfo(key, st.st_size, st.st_mtime)


def _chunks(fh: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with fh:
        while chunk := fh.read(chunk_size):
            yield chunk


def _limited(fh: BinaryIO, size: int, chunk_size: int) -> Iterator[bytes]:
    with fh:
        while size > 0 and (chunk := fh.read(min(chunk_size, size))):
            size -= len(chunk)
            yield chunk
