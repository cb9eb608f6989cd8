"""Listing and counting a project's runs with filters, an order and keyset pagination."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True)
class RunPage:
    """One page of runs, the cursor after each, and whether more follow."""

    runs: list[Run]
    cursors: list[str]
    has_next: bool


def list_runs(
    conn: Connection,
    project_id: int,
    filters: str | dict[str, Any] | None = None,
    order: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> RunPage:
    """Runs of a project matching ``filters`` in ``order``, after the cursor ``after``.

    Pagination is by keyset (the sort-key values of the last row), so runs created while a
    client pages through a listing never shift or repeat earlier rows.
    """
    parsed = parse_filters(filters)
    sort = parse_order(order)
    limit = max(1, min(int(limit), MAX_PAGE))
    keys = sort.keys()
    query = (
        run_select()
        .add_columns(*[expr.label(f"_k{i}") for i, (expr, _) in enumerate(keys)])
        .where(runs.c.project_id == project_id,
               filter_clause(parsed, conn.dialect.name))
        .order_by(*sort.order_by())
        .limit(limit + 1)
    )
    if after:
        query = query.where(keyset_after(sort, decode_cursor(sort, after)))
    rows = conn.execute(query).all()
    page = rows[:limit]
    return RunPage(
        runs=[to_run(_run_part(r, len(keys))) for r in page],
        cursors=[_cursor(sort, r, len(keys)) for r in page],
        has_next=len(rows) > limit,
    )


def count_runs(conn: Connection, project_id: int,
               filters: str | dict[str, Any] | None = None) -> int:
    """How many runs of a project match ``filters``."""
    parsed = parse_filters(filters)
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
