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

Lines are decoded one call each rather than joined into one JSON array: it is as fast, and
no line can pair up with its neighbours into other items.

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

from tracklet.storage.history.jsonline import loads_object

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
    decode: Any
    empty: Any
    columns: Callable[[list[Any]], list[list[Any]]]


@lru_cache(maxsize=CACHE_SIZE)
def _decoder(keys: tuple[str, ...]) -> _Decoder | None:
    """A decoder of ``keys`` (distinct); None when a key cannot be a Struct field name
    (msgspec refuses quotes, backslashes and control characters in them)."""
    names = [f"f{i}" for i in range(len(keys))]
    try:
        struct = msgspec.defstruct(
            "Projected", [(n, Any, msgspec.UNSET) for n in names],
            rename=dict(zip(names, keys, strict=True)), gc=False)
        decode = msgspec.json.Decoder(struct).decode
    except (ValueError, TypeError):
        return None
    return _Decoder(decode, struct(), _columns(len(keys)))


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
    if decoder is None:
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
