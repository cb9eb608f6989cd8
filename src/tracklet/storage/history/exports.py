"""Export records (which Parquet blobs hold a run's compacted history) and local copies."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, bindparam, select

from tracklet.errors import NotFound
from tracklet.storage.blobs.base import BlobStore
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.parquet import ExportFile, KeyStats
from tracklet.storage.metadata.tables import history_exports

KNOWN_EXPORTS = 1024


@dataclass(frozen=True)
class Export:
    """One immutable Parquet part of a run's compacted history."""

    run_id: int
    part: int
    blob_key: str
    size_bytes: int
    row_count: int
    min_step: int | None
    max_step: int | None
    key_stats: str
    created_at: float

    def stats(self) -> dict[str, KeyStats]:
        """Per-key statistics gathered when the part was written."""
        data = loads(self.key_stats or "{}")  # exact: a min or max may pass 64 bits
        return {k: KeyStats.from_json(v) for k, v in data.items()}


# Built once: every history read lists the run's parts first.
_EXPORTS_OF_RUN = (select(history_exports)
                   .where(history_exports.c.run_id == bindparam("run_id"))
                   .order_by(history_exports.c.part))


def get_exports(conn: Connection, run_id: int) -> list[Export]:
    """The run's export parts in order (their step ranges increase); empty when none."""
    rows = conn.execute(_EXPORTS_OF_RUN, {"run_id": run_id}).all()
    return [Export(**row._mapping) for row in rows]


def add_export(conn: Connection, export: Export) -> None:
    """Record a new part (its ``part`` number is the next one)."""
    conn.execute(history_exports.insert().values(**export.__dict__))


def delete_exports(conn: Connection, run_id: int) -> list[str]:
    """Forget all of the run's parts; returns their blob keys for the caller to delete."""
    keys = [e.blob_key for e in get_exports(conn, run_id)]
    conn.execute(history_exports.delete().where(history_exports.c.run_id == run_id))
    return keys


def new_blob_key(run_id: int) -> str:
    """A fresh key for a run's export blob (exports are immutable; a rebuild gets a new key)."""
    return f"history/{run_id}/{time.time_ns():x}.parquet"


class LocalFiles:
    """Local paths of export blobs: the blob itself on a local store, else a cached copy."""

    def __init__(self, blobs: BlobStore, cache_dir: Path | None = None) -> None:
        self.blobs = blobs
        self._cache_dir = cache_dir
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
                return ExportFile(known[0], known[2])
            except FileNotFoundError:
                pass  # a cached copy was removed: fetch it again below
        path, stats = self.path(key), export.stats()
        try:
            reader = ExportFile(path, stats)
        except FileNotFoundError:
            raise NotFound(f"blob {key!r} not found") from None
        with self._lock:
            self._known[key] = (path, export.key_stats, stats)
            while len(self._known) > KNOWN_EXPORTS:
                self._known.popitem(last=False)
        return reader
