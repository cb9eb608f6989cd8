"""Local paths of export blobs (the blob itself on a local store, else a cached copy) and
readers of them."""

from __future__ import annotations

import os
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path

from tracklet.errors import NotFound
from tracklet.storage.blobs.base import BlobStore
from tracklet.storage.history.export.cache import ExportReadCache
from tracklet.storage.history.export.key_stats import KeyStats
from tracklet.storage.history.export.reader import ExportFile
from tracklet.storage.history.export.table import Export

KNOWN_EXPORTS = 1024


class LocalFiles:
    """Local paths of export blobs: the blob itself on a local store, else a cached copy.

    Readers it opens share ``reads`` (decoded footers and row groups; a fresh cache when
    None)."""

    def __init__(self, blobs: BlobStore, cache_dir: Path | None = None,
                 reads: ExportReadCache | None = None) -> None:
        self.blobs = blobs
        self._cache_dir = cache_dir
        self.reads = ExportReadCache() if reads is None else reads
        self._lock = threading.Lock()
        # blob key -> (local path, key_stats text, parsed stats): every page of a scan
        # opens the same parts, and resolving the path and parsing the statistics cost
        # more than the page's own read. Blob keys are never reused for other bytes.
        self._known: OrderedDict[str, tuple[Path, str, dict[str, KeyStats]]] = OrderedDict()

    def cache_dir(self) -> Path:
        """Where copies of remote blobs are kept (created on first use)."""
        with self._lock:
            if self._cache_dir is None:
                self._cache_dir = Path(tempfile.mkdtemp(prefix="tracklet-history-"))
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            return self._cache_dir

    def path(self, key: str) -> Path:
        """A local file holding the bytes of blob ``key``; NotFound when the blob is gone."""
        direct = self.blobs.local_path(key)
        if direct is not None:
            if not direct.is_file():
                raise NotFound(f"blob {key!r} not found")
            return direct
        target = self.cache_dir() / key.replace("/", "_")
        if target.is_file():
            return target
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir())
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in self.blobs.open(key):
                    out.write(chunk)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def forget(self, key: str) -> None:
        """Drop the cached copy of ``key`` (after the blob was deleted)."""
        with self._lock:
            self._known.pop(key, None)
        if self._cache_dir is not None:
            (self._cache_dir / key.replace("/", "_")).unlink(missing_ok=True)

    def open(self, export: Export) -> ExportFile:
        """A reader of one part with its explicit nulls restored; NotFound when the blob
        is gone."""
        key = export.blob_key
        with self._lock:
            known = self._known.get(key)
            if known is not None:
                self._known.move_to_end(key)
        if known is not None and known[1] == export.key_stats:
            try:
                return ExportFile(known[0], known[2], self.reads)
            except FileNotFoundError:
                pass  # a cached copy was removed: fetch it again below
        path, stats = self.path(key), export.stats()
        try:
            reader = ExportFile(path, stats, self.reads)
        except FileNotFoundError:
            raise NotFound(f"blob {key!r} not found") from None
        with self._lock:
            self._known[key] = (path, export.key_stats, stats)
            while len(self._known) > KNOWN_EXPORTS:
                self._known.popitem(last=False)
        return reader
