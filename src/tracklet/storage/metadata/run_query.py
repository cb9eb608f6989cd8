"""Listing and counting a project's runs with filters, an order and keyset pagination."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from tracklet.domain.records import Run
from tracklet.storage.metadata.run_filters import (
    Order,
    decode_cursor,
    encode_cursor,
    filter_clause,
    keyset_after,
    parse_filters,
    parse_order,
)
from tracklet.storage.metadata.runs import run_select, to_run
from tracklet.storage.metadata.tables import runs, users

MAX_PAGE = 1000
# Listings kept per Storage: enough for a few clients paging through a few queries each.
CACHE_ENTRIES = 32


@dataclass(frozen=True)
class RunPage:
    """One page of runs, the cursor after each, and whether more follow."""

    runs: list[Run]
    cursors: list[str]
    has_next: bool


@dataclass(frozen=True)
class _Listing:
    """Every match of one query in order, as of one state of the project's runs."""

    fingerprint: tuple[Any, ...]
    ids: list[int]
    cursors: list[str]
    positions: dict[str, int]


class RunListingCache:
    """Recent listings of one database, so paging through N matches evaluates the filter
    and sort once instead of once per page (which made listing every match quadratic).

    One lives on each :class:`~tracklet.storage.Storage` (``Storage.run_listings``): entries
    are keyed by project, filter and order, not by database, so a cache must never be
    shared between two databases. Thread-safe.
    """

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[Any, ...], _Listing] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...]) -> _Listing | None:
        """The listing under ``key`` if it was built at ``fingerprint``, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry.fingerprint != fingerprint:
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[Any, ...], entry: _Listing) -> None:
        """Keep ``entry``, dropping the least recently used beyond ``CACHE_ENTRIES``."""
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > CACHE_ENTRIES:
                self._entries.popitem(last=False)

    def count(self, key: tuple[Any, ...], fingerprint: tuple[Any, ...]) -> int | None:
        """The number of matches of any cached listing of the same filter."""
        with self._lock:
            for k, entry in reversed(self._entries.items()):
                if k[:2] == key[:2] and entry.fingerprint == fingerprint:
                    return len(entry.ids)
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)


def _fingerprint(conn: Connection, project_id: int) -> tuple[Any, ...]:
    """Changes whenever a run of the project is created, updated or deleted: every update
    bumps ``runs.revision`` and an id or creation time never comes back with the same sum.
    Users are part of it because a filter may name a user."""
    row = conn.execute(
        select(func.count(), func.coalesce(func.max(runs.c.id), 0),
               func.coalesce(func.sum(runs.c.revision), 0),
               func.coalesce(func.sum(runs.c.id), 0),
               func.coalesce(func.sum(runs.c.created_at), 0))
        .where(runs.c.project_id == project_id)
    ).one()
    user_row = conn.execute(select(func.count(), func.max(users.c.id))).one()
    return (*(str(v) for v in row), *(str(v) for v in user_row))


def _cache_key(project_id: int, parsed: dict[str, Any], sort: Order) -> tuple[Any, ...]:
    return (project_id, orjson.dumps(parsed, option=orjson.OPT_SORT_KEYS), sort.spec)


def _memo_fingerprint(conn: Connection, project_id: int,
                      memo: dict[str, Any] | None) -> tuple[Any, ...]:
    """The fingerprint, computed once per ``memo`` (one GraphQL request asks for both a
    page and ``runCount``: one logical read)."""
    if memo is None:
        return _fingerprint(conn, project_id)
    key = f"runs-fingerprint:{id(conn.engine)}:{project_id}"
    value = memo.get(key)
    if value is None:
        value = memo[key] = _fingerprint(conn, project_id)
    return value


def _listing(conn: Connection, project_id: int, parsed: dict[str, Any], sort: Order,
             memo: dict[str, Any] | None, listings: RunListingCache | None) -> _Listing:
    """The cached listing of this query, rebuilt when the project's runs changed (built
    afresh every time without ``listings``)."""
    fingerprint = _memo_fingerprint(conn, project_id, memo)
    key = _cache_key(project_id, parsed, sort)
    if listings is not None:
        entry = listings.get(key, fingerprint)
        if entry is not None:
            return entry
    keys = sort.keys()
    query = (
        select(runs.c.id, *[expr.label(f"_k{i}") for i, (expr, _) in enumerate(keys)])
        .select_from(runs.outerjoin(users, users.c.id == runs.c.user_id))
        .where(runs.c.project_id == project_id, filter_clause(parsed, conn.dialect.name))
        .order_by(*sort.order_by())
    )
    rows = conn.execute(query).all()
    cursors = [_cursor(sort, r, len(keys)) for r in rows]
    entry = _Listing(fingerprint, [int(r[0]) for r in rows], cursors,
                     {c: i for i, c in enumerate(cursors)})
    if listings is not None:
        listings.put(key, entry)
    return entry


def bound_statements(conn: Connection, timeout_s: float) -> None:
    """On PostgreSQL, cancel any statement of this transaction running longer than
    ``timeout_s`` (0: no bound); the engine answers a cancelled one as InvalidInput. SQLite
    needs none: its filters run in this process, on RE2 for ``$regex``."""
    if timeout_s > 0 and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")


def list_runs(
    conn: Connection,
    project_id: int,
    filters: str | dict[str, Any] | None = None,
    order: str | None = None,
    after: str | None = None,
    limit: int = 50,
    memo: dict[str, Any] | None = None,
    listings: RunListingCache | None = None,
    timeout_s: float = 0.0,
) -> RunPage:
    """Runs of a project matching ``filters`` in ``order``, after the cursor ``after``.

    Pagination is by keyset (the sort-key values of the last row), so runs created while a
    client pages through a listing never shift or repeat earlier rows. The whole ordered
    match list is kept in ``listings`` (the Storage's ``run_listings``) while the project's
    runs stay unchanged; a page is then a slice of it after the cursor's position (the same
    rows the keyset condition selects). ``memo`` (a per-request dict) lets the page and its
    ``count_runs`` share one fingerprint. ``timeout_s`` bounds each statement of the rest
    of the transaction on PostgreSQL (:func:`bound_statements`).
    """
    parsed = parse_filters(filters)
    sort = parse_order(order)
    limit = max(1, min(int(limit), MAX_PAGE))
    bound_statements(conn, timeout_s)
    if after:
        decode_cursor(sort, after)  # InvalidInput for a cursor that is not ours
    listing = _listing(conn, project_id, parsed, sort, memo, listings)
    start = 0
    if after:
        position = listing.positions.get(after)
        if position is None:
            # The cursor's run changed or left since: the keyset query finds the spot.
            return _list_by_keyset(conn, project_id, parsed, sort, after, limit)
        start = position + 1
    ids = listing.ids[start:start + limit]
    found = {run.id: run for run in (to_run(r) for r in conn.execute(
        run_select().where(runs.c.id.in_(ids))).all())} if ids else {}
    page = [(found[i], c) for i, c in zip(ids, listing.cursors[start:start + limit],
                                          strict=True) if i in found]
    return RunPage(runs=[r for r, _ in page], cursors=[c for _, c in page],
                   has_next=start + limit < len(listing.ids))


def _list_by_keyset(conn: Connection, project_id: int, parsed: dict[str, Any], sort: Order,
                    after: str, limit: int) -> RunPage:
    keys = sort.keys()
    query = (
        run_select()
        .add_columns(*[expr.label(f"_k{i}") for i, (expr, _) in enumerate(keys)])
        .where(runs.c.project_id == project_id,
               filter_clause(parsed, conn.dialect.name))
        .where(keyset_after(sort, decode_cursor(sort, after)))
        .order_by(*sort.order_by())
        .limit(limit + 1)
    )
    rows = conn.execute(query).all()
    page = rows[:limit]
    return RunPage(
        runs=[to_run(_run_part(r, len(keys))) for r in page],
        cursors=[_cursor(sort, r, len(keys)) for r in page],
        has_next=len(rows) > limit,
    )


def count_runs(conn: Connection, project_id: int,
               filters: str | dict[str, Any] | None = None,
               memo: dict[str, Any] | None = None,
               listings: RunListingCache | None = None, timeout_s: float = 0.0) -> int:
    """How many runs of a project match ``filters`` (from a listing in ``listings`` when
    one is current); ``timeout_s`` as in :func:`list_runs`."""
    parsed = parse_filters(filters)
    bound_statements(conn, timeout_s)
    if listings is not None:
        cached = listings.count(_cache_key(project_id, parsed, parse_order(None)),
                                _memo_fingerprint(conn, project_id, memo))
        if cached is not None:
            return cached
    query = (
        select(func.count())
        .select_from(runs.outerjoin(users, users.c.id == runs.c.user_id))
        .where(runs.c.project_id == project_id, filter_clause(parsed, conn.dialect.name))
    )
    return int(conn.execute(query).scalar_one())


class _Row:
    """A result row without the trailing sort-key columns, for :func:`to_run`."""

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping


def _run_part(row: Any, nkeys: int) -> _Row:
    mapping = dict(row._mapping)
    for i in range(nkeys):
        mapping.pop(f"_k{i}")
    return _Row(mapping)


def _cursor(sort: Order, row: Any, nkeys: int) -> str:
    return encode_cursor(sort, [row._mapping[f"_k{i}"] for i in range(nkeys)])
