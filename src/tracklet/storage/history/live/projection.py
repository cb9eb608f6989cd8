"""Live history lines decoded for a few keys only.

A live read usually wants two or three keys of rows that hold a dozen or more. Decoding each
line into a msgspec Struct that has only the wanted keys as fields skips building Python
objects for every other value, which is most of the cost of parsing the whole row.

The values are exactly those of the readers' reference path, :func:`..jsonline.loads_object`
(exact: the SDK's ``NaN``/``Infinity`` tokens, integers of any size) followed by
``dict.get``: a line that is not a JSON object holds no key. msgspec is strict JSON and
reads integers of any size as integers too, so only a line it refuses (a non-finite token,
a number beyond a double, a non-object line, a lone surrogate, deep nesting...) goes
through that reference path.

:func:`project_lines` decodes one call per line. :class:`ChunkProjection` decodes the
wanted lines of a live chunk (:mod:`.chunks`: the lines' texts stored back to back in one
string) with one call, msgspec's ``decode_lines`` over that string, which reads JSON values
one after the other whether or not whitespace separates them; slicing each line out of the
chunk first cost about half as much again as decoding it. This relies on what every writer
of the live tier guarantees: each history line is one JSON object (file_stream ingest
refuses a request holding any other line with a 400; an import writes lines serialized
from parsed rows). An object's text ends at its closing brace and its strings are read
whole, so each line's text then decodes to exactly one item, its own, and the string
holding the lines decodes to the lines in order: a ``}{`` or a newline inside a string or
a key name is only text. A chunk is taken this way only when the decode succeeds and
yields exactly one item per line; otherwise (a line msgspec refuses: NaN/Infinity tokens,
a number beyond a double, a lone surrogate, deep nesting, or a line that is no object,
which only a direct storage-layer write can store) that chunk's lines are decoded one by
one as :func:`project_lines` does, each refused line by the reference path.

The decoders are memoized per process (``lru_cache``, not on ``Storage``): a decoder is a
pure function of its key tuple, holds no data of any deployment or run, and building one
(a Struct type and its decoder) costs more than decoding a page with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np

from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live.chunks import Chunk

#: The value of a key the row does not hold (null values are ``None``).
MISSING: Any = msgspec.UNSET

#: What a Struct decoder raises for a line it does not take.
_REFUSED = (msgspec.DecodeError, UnicodeEncodeError, RecursionError)
#: Distinct key sets whose decoders are kept (key sets come from users).
CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Projection:
    """The wanted keys' values of a list of lines."""

    #: Per requested key (in request order), the value in each line, :data:`MISSING` where
    #: the line does not hold the key.
    columns: list[list[Any]]
    #: Indexes (ascending) of the lines read by the lenient reference path; only their
    #: values may hold non-finite floats.
    slow: list[int]


@dataclass(frozen=True, slots=True)
class _Decoder:
    #: One line to a Struct (None when a key cannot be a Struct field name).
    decode: Any
    #: JSON values back to back to a list of Structs (None as ``decode``).
    decode_lines: Any
    #: The Struct type: fields ``f0``.. in key order, each :data:`MISSING` by default.
    struct: Any
    empty: Any
    columns: Callable[[list[Any]], list[list[Any]]]


@lru_cache(maxsize=CACHE_SIZE)
def _decoder(keys: tuple[str, ...]) -> _Decoder:
    """A decoder of ``keys`` (distinct); without ``decode`` when a key cannot be a Struct
    field name (msgspec refuses quotes, backslashes and control characters in them)."""
    names = [f"f{i}" for i in range(len(keys))]
    fields = [(n, Any, msgspec.UNSET) for n in names]
    decode: Any
    decode_lines: Any
    try:
        struct = msgspec.defstruct("Projected", fields,
                                   rename=dict(zip(names, keys, strict=True)), gc=False)
        decoder = msgspec.json.Decoder(struct)
        decode, decode_lines = decoder.decode, decoder.decode_lines
    except (ValueError, TypeError):
        struct = msgspec.defstruct("Projected", fields, gc=False)
        decode = decode_lines = None
    return _Decoder(decode, decode_lines, struct, struct(), _columns(len(keys)))


@lru_cache(maxsize=64)
def _columns(n: int) -> Callable[[list[Any]], list[list[Any]]]:
    """``lambda items: [[p.f0 for p in items], [p.f1 for p in items], ...]`` for ``n``
    fields: a comprehension per field reads attributes about twice as fast as
    ``map(attrgetter(...))``. The source holds field numbers only, never a key."""
    body = ", ".join(f"[p.f{i} for p in items]" for i in range(n))
    namespace: dict[str, Any] = {}
    exec(f"def columns(items):\n    return [{body}]\n", namespace)
    return namespace["columns"]  # type: ignore[no-any-return]


def project_lines(texts: Sequence[str], keys: Sequence[str]) -> Projection:
    """The values of ``keys`` in each of ``texts``, as the reference path reads them."""
    unique = tuple(dict.fromkeys(keys))
    n = len(texts)
    if not unique:
        return Projection([], [])
    decoder = _decoder(unique)
    if decoder.decode is None:
        columns = [[MISSING] * n for _ in unique]
        slow = list(range(n))
    else:
        decode = decoder.decode
        try:
            items = list(map(decode, texts))
            refused: list[int] = []
        except _REFUSED:
            items, refused = _one_by_one(decode, decoder.empty, texts)
        columns = decoder.columns(items)
        slow = refused
    if slow:
        _reference(texts, unique, columns, slow)
    if len(unique) == len(keys):
        return Projection(columns, slow)
    by_key = dict(zip(unique, columns, strict=True))
    return Projection([by_key[k] for k in keys], slow)


def _one_by_one(decode: Any, empty: Any, texts: Sequence[str]) -> tuple[list[Any], list[int]]:
    """Each line decoded alone: (items, indexes of the refused lines, given ``empty``)."""
    items: list[Any] = []
    refused: list[int] = []
    append = items.append
    for i, text in enumerate(texts):
        try:
            append(decode(text))
        except _REFUSED:
            append(empty)
            refused.append(i)
    return items, refused


def _reference(texts: Sequence[str], keys: tuple[str, ...], columns: list[list[Any]],
               rows: list[int]) -> None:
    """Set ``rows``' values in ``columns`` as the reference path reads them."""
    for i in rows:
        data = loads_object(texts[i])
        for key, column in zip(keys, columns, strict=True):
            column[i] = MISSING if data is None else data.get(key, MISSING)


class ChunkProjection:
    """The values of ``keys`` in the lines of live chunks: :meth:`rows` decodes a chunk's
    wanted lines into one row object each, :meth:`columns` turns rows (of any chunks, in
    any order) into per-key columns, exactly as :func:`project_lines` reads the same
    lines' texts."""

    def __init__(self, keys: Sequence[str]) -> None:
        self.keys = list(keys)
        self._unique = tuple(dict.fromkeys(keys))
        self._decoder = _decoder(self._unique) if self._unique else None

    def rows(self, chunk: Chunk, index: np.ndarray | None = None) -> list[Any]:
        """One row per line of ``chunk`` (the lines at ascending positions ``index``
        when given), in that order."""
        decoder = self._decoder
        n = len(chunk) if index is None else len(index)
        if decoder is None or not n:
            return [None] * n
        if decoder.decode_lines is not None:
            first = 0 if index is None else int(index[0])
            last = len(chunk) - 1 if index is None else int(index[-1])
            start = int(chunk.ends[first - 1]) if first else 0
            end = int(chunk.ends[last])
            data = chunk.data
            try:
                # The span from the first to the last wanted line, whole lines only.
                items = decoder.decode_lines(
                    data if start == 0 and end == len(data) else data[start:end])
            except _REFUSED:
                items = None
            if items is not None and len(items) == last - first + 1:
                if index is None or len(items) == n:  # every line of the span is wanted
                    return items  # type: ignore[no-any-return]
                return [items[i] for i in (index - first).tolist()]
        return self._one_by_one(chunk.texts(index))

    def _one_by_one(self, texts: list[str]) -> list[Any]:
        """Rows of ``texts`` decoded alone, each line msgspec refuses by the reference
        path."""
        decoder = self._decoder
        assert decoder is not None
        if decoder.decode is None:
            refused = list(range(len(texts)))
            items: list[Any] = [decoder.empty] * len(texts)
        else:
            items, refused = _one_by_one(decoder.decode, decoder.empty, texts)
        struct = decoder.struct
        for i in refused:
            data = loads_object(texts[i])
            items[i] = decoder.empty if data is None else struct(
                *(data.get(key, MISSING) for key in self._unique))
        return items

    def columns(self, rows: list[Any]) -> list[list[Any]]:
        """Per requested key (in request order), its value in each row, :data:`MISSING`
        where the line does not hold it."""
        if self._decoder is None:
            return []
        columns = self._decoder.columns(rows)
        if len(self._unique) == len(self.keys):
            return columns
        by_key = dict(zip(self._unique, columns, strict=True))
        return [by_key[k] for k in self.keys]
