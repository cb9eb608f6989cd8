"""Decoded export footers and row groups, kept between requests by one ``Storage``.

A client scanning a history pages through it 1,000 steps a request, and a row group holds
up to 32,768 rows: without these caches each page would open the file, parse its footer
and decode its whole group again. They live on the ``Storage`` object (``Storage.export_reads``),
not in module globals, so each deployment a process opens (a server, a test) has its own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pyarrow as pa

from tracklet.storage.history.export.format import FileIndex


class GroupCache:
    """Recently decoded row groups of export files, at most ``max_cells`` cells in all.

    Exports are immutable files (a rebuild writes a new one); the key is the file's identity
    (path, inode, size, modification time), group and columns, so even a file rewritten in
    place is never answered from its old groups.
    """

    def __init__(self, max_cells: int = 4_000_000) -> None:
        self._entries: OrderedDict[tuple[Any, int, tuple[str, ...]], pa.Table] = OrderedDict()
        self._cells = 0
        self._max_cells = max_cells
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, int, tuple[str, ...]]) -> pa.Table | None:
        with self._lock:
            table = self._entries.get(key)
            if table is not None:
                self._entries.move_to_end(key)
            return table

    def put(self, key: tuple[Any, int, tuple[str, ...]], table: pa.Table) -> None:
        cells = table.num_rows * table.num_columns
        if cells > self._max_cells:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = table
            self._cells += cells
            while self._cells > self._max_cells:
                _, old = self._entries.popitem(last=False)
                self._cells -= old.num_rows * old.num_columns


class FooterCache:
    """Footers of recently read export files, keyed by the file's identity (path, inode,
    size, modification time), so a page of a scan neither opens nor parses the file when
    its row groups are already decoded. A file rewritten in place gets a new key."""

    def __init__(self, size: int = 1024) -> None:
        self._entries: OrderedDict[tuple[Any, ...], FileIndex] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> FileIndex | None:
        with self._lock:
            index = self._entries.get(key)
            if index is not None:
                self._entries.move_to_end(key)
            return index

    def put(self, key: tuple[Any, ...], index: FileIndex) -> None:
        with self._lock:
            self._entries[key] = index
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class ExportReadCache:
    """What readers of export files keep between requests: decoded row groups and parsed
    footers, both keyed by the file's identity."""

    def __init__(self, max_cells: int = 4_000_000, footers: int = 1024) -> None:
        self.groups = GroupCache(max_cells)
        self.footers = FooterCache(footers)
