"""Cached run listings: paging a filtered, sorted listing evaluates the query once, and
every change to the project's runs (summary, state, new and deleted runs) shows up on the
next page exactly as the uncached keyset query would show it (SQLite and PostgreSQL).
The cache belongs to one Storage: another Storage in the same process starts empty."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import event

from tracklet.config import Settings
from tracklet.domain.records import Project, RunFields
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts, run_query
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.run_filters import filter_clause, parse_order
from tracklet.storage.metadata.runs import run_select, to_run
from tracklet.storage.metadata.tables import runs

FILTERS = {"summary_metrics.acc": {"$gt": 0.3}}
ORDER = "-summary_metrics.acc"


def _acc(i: int) -> float:
    return ((i * 37) % 101) / 101


def _create(storage: Storage, project: Project, n: int) -> dict[str, int]:
    ids = {}
    with storage.db.write() as conn:
        for i in range(n):
            summary = orjson.dumps({"acc": _acc(i)}).decode()
            ids[f"r{i}"] = run_repo.create_run(conn, project, f"r{i}", None,
                                               RunFields(summary=summary)).id
    return ids


def _page(storage: Storage, project: Project, after: str | None,
          limit: int = 7) -> run_query.RunPage:
    with storage.db.read() as conn:
        return run_query.list_runs(conn, project.id, FILTERS, ORDER, after, limit,
                                   listings=storage.run_listings)


def _all(storage: Storage, project: Project) -> list[str]:
    names, after = [], None
    while True:
        page = _page(storage, project, after)
        names += [r.name for r in page.runs]
        if not page.has_next:
            return names
        after = page.cursors[-1]


def _uncached(storage: Storage, project: Project) -> list[str]:
    """The listing straight from one SQL query, no cache."""
    sort = parse_order(ORDER)
    with storage.db.read() as conn:
        rows = conn.execute(
            run_select().where(runs.c.project_id == project.id,
                               filter_clause(FILTERS, conn.dialect.name))
            .order_by(*sort.order_by())).all()
    return [to_run(r).name for r in rows]


def _count(storage: Storage, project: Project) -> int:
    with storage.db.read() as conn:
        return run_query.count_runs(conn, project.id, FILTERS, listings=storage.run_listings)


def test_listing_pages_and_changes(storage: Storage, project: Project) -> None:
    ids = _create(storage, project, 60)
    want = [f"r{i}" for i in sorted((i for i in range(60) if _acc(i) > 0.3),
                                    key=lambda i: -_acc(i))]
    assert _all(storage, project) == want == _uncached(storage, project)
    assert _count(storage, project) == len(want)

    first = _page(storage, project, None)
    # A summary update (set_run_columns, as ingest does) moves a run ahead of the cursor.
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, ids[want[-1]], summary=orjson.dumps({"acc": 1.5}).decode())
    second = _page(storage, project, first.cursors[-1])
    assert [r.name for r in second.runs] == want[7:14]
    assert _all(storage, project)[0] == want[-1]
    assert _all(storage, project) == _uncached(storage, project)

    # update_run, a new run, a deleted run and a crash sweep are all seen.
    with storage.db.write() as conn:
        run_repo.update_run(conn, ids[want[0]], RunFields(summary='{"acc": 0.0}'))
        run_repo.create_run(conn, project, "late", None, RunFields(summary='{"acc": 0.5}'))
        run_repo.delete_run(conn, ids[want[3]])
    listed = _all(storage, project)
    assert want[0] not in listed and want[3] not in listed and "late" in listed
    assert listed == _uncached(storage, project)
    assert _count(storage, project) == len(listed)

    # A cursor whose run changed since falls back to the keyset query: no repeats.
    page = _page(storage, project, None)
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, page.runs[-1].id,
                                 summary=orjson.dumps({"acc": 0.301}).decode())
    rest = _page(storage, project, page.cursors[-1], limit=1000)
    assert not {r.name for r in rest.runs} & {r.name for r in page.runs[:-1]}
    assert _all(storage, project) == _uncached(storage, project)


def test_bad_cursor_is_invalid_input(storage: Storage, project: Project) -> None:
    from tracklet.errors import InvalidInput

    _create(storage, project, 3)
    with pytest.raises(InvalidInput):
        _page(storage, project, "not-a-cursor")


@contextmanager
def _listing_queries(storage: Storage) -> Iterator[list[str]]:
    """The filtered, sorted listing SELECTs ``storage`` sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "ORDER BY" in statement and "_k0" in statement:
            seen.append(statement)

    event.listen(storage.db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(storage.db.engine, "before_cursor_execute", record)


def test_paging_sorts_once_per_storage(storage: Storage, project: Project,
                                       tmp_path: Path) -> None:
    _create(storage, project, 40)
    with _listing_queries(storage) as sorts:
        names = _all(storage, project)
    assert len(names) > 14  # three pages or more
    assert len(sorts) == 1
    assert len(storage.run_listings) == 1

    # A second Storage (another app in this process) keeps its own listings.
    other = Storage.open(Settings(data_dir=tmp_path / "other"))
    try:
        assert len(other.run_listings) == 0
        with other.db.write() as conn:
            accounts.create_user(conn, "alice", admin=False)
            entity = accounts.ensure_entity(conn, "alice")
            other_project = accounts.ensure_project(conn, entity, "p")
        _create(other, other_project, 3)
        with _listing_queries(other) as sorts:
            assert len(_all(other, other_project)) == sum(_acc(i) > 0.3 for i in range(3))
        assert len(sorts) == 1
        assert len(other.run_listings) == 1 and len(storage.run_listings) == 1
    finally:
        other.close()

    # Without a cache every page evaluates the listing again.
    with _listing_queries(storage) as sorts, storage.db.read() as conn:
        first = run_query.list_runs(conn, project.id, FILTERS, ORDER, None, 7)
        run_query.list_runs(conn, project.id, FILTERS, ORDER, first.cursors[-1], 7)
    assert len(sorts) == 2
