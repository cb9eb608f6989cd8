"""``sampledHistory`` pages through the real GraphQL executor on a real store: the same
answers whether a run is live or compacted, and no cached reader ever answers from data the
run no longer has (new live rows, a new export part, a rebuilt export)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tracklet.config import Settings
from tracklet.domain.records import RunFields, StreamChunk, User
from tracklet.server.graphql import GraphQLContext, build_schema, execute
from tracklet.storage import Storage
from tracklet.storage.history import compaction
from tracklet.storage.history.live.write import write_history
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import dumps_row, json_safe
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo

PAGE = """query SampledHistoryPage($entity: String!, $project: String!, $run: String!,
$spec: JSONString!) {
  project(name: $project, entityName: $entity) {
    run(name: $run) { sampledHistory(specs: [$spec]) }
  }
}"""

SCHEMA = build_schema()


@pytest.fixture(params=["memory", "local"])
def settings(request: pytest.FixtureRequest, storage_settings: Settings) -> Settings:
    """Export blobs remote (read through local copies) or local files."""
    return dataclasses.replace(storage_settings,
                               blobs="memory://" if request.param == "memory" else "")


@pytest.fixture
def store(settings: Settings) -> Iterator[Storage]:
    s = Storage.open(settings)
    yield s
    s.close()


@pytest.fixture
def alice(store: Storage, settings: Settings) -> User:
    _SETTINGS[id(store)] = settings
    with store.db.write() as conn:
        return accounts.create_user(conn, "alice", admin=False)


_SETTINGS: dict[int, Settings] = {}


def _run(store: Storage, name: str) -> int:
    with store.db.write() as conn:
        project = accounts.ensure_project(conn, accounts.ensure_entity(conn, "alice"), "p")
        return run_repo.create_run(conn, project, name, None, RunFields()).id


def _log(store: Storage, run_id: int, rows: list[dict[str, Any]], offset: int) -> None:
    with store.db.write() as conn:
        write_history(conn, run_id, StreamChunk(offset, tuple(dumps_row(r) for r in rows)))


def _state(store: Storage, run_id: int, state: str) -> None:
    with store.db.write() as conn:
        run_repo.set_run_columns(conn, run_id, state=state)


def _page(store: Storage, user: User, run: str, keys: list[str], lo: int, hi: int,
          samples: int | None = None) -> list[dict[str, Any]]:
    """One SDK page: ``maxStep`` inclusive, ``samples`` the page size."""
    spec = {"keys": keys, "minStep": lo, "maxStep": hi,
            "samples": hi - lo + 1 if samples is None else samples}
    ctx = GraphQLContext(user=user, storage=store, settings=_SETTINGS[id(store)],
                         base_url="http://test")
    body = {"query": PAGE, "variables": {"entity": "alice", "project": "p", "run": run,
                                         "spec": orjson.dumps(spec).decode()}}
    result, status = execute(SCHEMA, body, ctx)
    assert status == 200 and "errors" not in result, result
    # What goes over the wire, decoded as the client decodes it.
    pages = orjson.loads(orjson.dumps(result))["data"]["project"]["run"]["sampledHistory"]
    assert len(pages) == 1
    page: list[dict[str, Any]] = pages[0]
    return page


def _want(store: Storage, run_id: int, keys: list[str], lo: int,
          hi: int) -> list[dict[str, Any]]:
    """Every row in ``[lo, hi]`` holding all keys, projected, strict JSON: read row by row."""
    wanted = list(dict.fromkeys(keys))
    with open_history(store, run_id) as view:
        rows = [r.data for r in view.rows(lo, hi + 1)]
    return [json_safe({k: r[k] for k in wanted}) for r in rows if all(k in r for k in wanted)]


def _rows(start: int, stop: int, scale: float = 1.0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for s in range(start, stop):
        row: dict[str, Any] = {"_step": s, "loss": scale / (s + 1), "n": s * 3}
        if s % 4 == 0:
            row["odd"] = {"a": [s, float("nan")]} if s % 8 == 0 else float("inf")
        if s % 5 == 3:
            del row["loss"]
        out.append(row)
    return out


def _scan(store: Storage, user: User, name: str, run_id: int, keys: list[str], last: int,
          page: int = 30) -> None:
    for lo in range(0, last + 1, page):
        hi = min(lo + page - 1, last)
        got = _page(store, user, name, keys, lo, hi)
        assert got == _want(store, run_id, keys, lo, hi), (lo, keys)


@pytest.mark.parametrize("keys", [["loss", "_step"], ["_step", "loss", "_step"], ["n"],
                                  ["odd", "_step"], ["loss", "n", "_step", "odd"]])
def test_pages_are_exact_live_and_compacted(store: Storage, alice: User,
                                            keys: list[str]) -> None:
    run = _run(store, "r")
    _log(store, run, _rows(0, 200), 0)
    _scan(store, alice, "r", run, keys, 199)
    _state(store, run, "finished")
    assert compaction.compact_now(store, run)
    with open_history(store, run) as view:
        assert view.fully_exported
    _scan(store, alice, "r", run, keys, 199)


def test_a_live_page_sees_rows_logged_after_the_last_page(store: Storage, alice: User) -> None:
    run = _run(store, "r")
    _log(store, run, _rows(0, 40), 0)
    assert [r["_step"] for r in _page(store, alice, "r", ["n", "_step"], 30, 59)] == list(
        range(30, 40))
    _log(store, run, _rows(40, 60), 40)
    got = _page(store, alice, "r", ["n", "_step"], 30, 59)
    assert got == [{"n": s * 3, "_step": s} for s in range(30, 60)]


def test_a_live_page_with_more_rows_than_samples_is_sampled(store: Storage, alice: User) -> None:
    # Two lines with the same step in one page: more rows than its size, so the page is
    # sampled (extremes kept) rather than answered whole.
    run = _run(store, "r")
    rows = _rows(0, 30)
    _log(store, run, [*rows, {"_step": 29, "loss": -5.0, "n": 0}], 0)
    got = _page(store, alice, "r", ["loss", "_step"], 0, 29, samples=10)
    assert len(got) < len(_want(store, run, ["loss", "_step"], 0, 29))
    assert {"loss": -5.0, "_step": 29} in got and got[0] == {"loss": 1.0, "_step": 0}
    whole = _page(store, alice, "r", ["n", "_step"], 0, 29, samples=31)
    assert whole == _want(store, run, ["n", "_step"], 0, 29) and len(whole) == 31


def test_a_new_export_part_is_read_after_pages_of_the_first(store: Storage,
                                                          alice: User) -> None:
    run = _run(store, "r")
    _log(store, run, _rows(0, 100), 0)
    _state(store, run, "finished")
    assert compaction.compact_now(store, run)
    _scan(store, alice, "r", run, ["loss", "_step"], 99)
    # Resumed and ended again: a second part.
    _state(store, run, "running")
    _log(store, run, _rows(100, 150), 100)
    _scan(store, alice, "r", run, ["loss", "_step"], 149)
    _state(store, run, "finished")
    assert compaction.compact_now(store, run)
    with open_history(store, run) as view:
        assert view.fully_exported and len(view.exports) == 2
    _scan(store, alice, "r", run, ["loss", "_step"], 149)
    got = _page(store, alice, "r", ["n", "_step"], 90, 119)
    assert got == [{"n": s * 3, "_step": s} for s in range(90, 120)]


def test_rewritten_rows_replace_what_earlier_pages_read(store: Storage, alice: User) -> None:
    # A client rewrote exported rows after pages of the export were read (and its footer,
    # statistics and row groups cached): the rewritten values answer from then on.
    run = _run(store, "r")
    _log(store, run, _rows(0, 80), 0)
    _state(store, run, "finished")
    assert compaction.compact_now(store, run)
    before = _page(store, alice, "r", ["loss", "_step"], 0, 79)
    assert before == _want(store, run, ["loss", "_step"], 0, 79)
    _state(store, run, "running")
    _log(store, run, _rows(0, 80, scale=-2.0), 0)  # same lines, other values
    mixed = _page(store, alice, "r", ["loss", "_step"], 0, 79)
    assert mixed == _want(store, run, ["loss", "_step"], 0, 79)
    assert [r["_step"] for r in mixed] == [r["_step"] for r in before]
    assert all(r["loss"] < 0 for r in mixed) and all(r["loss"] > 0 for r in before)
    _state(store, run, "finished")
    assert compaction.compact_now(store, run)
    assert _page(store, alice, "r", ["loss", "_step"], 0, 79) == mixed


def test_pages_of_a_checkpointed_running_run_are_the_pages_it_had(store: Storage,
                                                                  alice: User) -> None:
    # A checkpoint moves the settled lines of a running run to a part; every page, the
    # ones across the boundary and the sampled ones included, answers as before.
    run = _run(store, "r")
    _log(store, run, _rows(0, 2_300), 0)
    ranges = [(0, 999), (1_980, 2_019), (2_000, 2_299), (1_500, 2_299)]
    keys = [["loss", "_step"], ["loss", "n", "_step", "odd"]]
    before = [_page(store, alice, "r", k, lo, hi) for k in keys for lo, hi in ranges]
    sampled = [_page(store, alice, "r", k, 0, 2_299, samples=100) for k in keys]
    assert compaction.compact_now(store, run, checkpoint_rows=1_000)
    with open_history(store, run) as view:
        assert [(e.min_step, e.max_step) for e in view.exports] == [(0, 1_999)]
        assert view.live_count == 300
    assert [_page(store, alice, "r", k, lo, hi) for k in keys for lo, hi in ranges] == before
    assert [_page(store, alice, "r", k, 0, 2_299, samples=100) for k in keys] == sampled
