"""Run filters and orders, in SQL on SQLite and PostgreSQL, against a Python oracle.

The oracle below restates the documented semantics (run_filters.py) independently: each
filter's SQL result must equal the set of runs the oracle selects, and each order must
list the runs exactly as the oracle sorts them, page by page through keyset cursors.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.storage.filter_oracle import expected_order, match
from tracklet.domain.records import Project, RunFields
from tracklet.errors import InvalidInput
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.engine import Database
from tracklet.storage.metadata.migrate import upgrade
from tracklet.storage.metadata.run_query import bound_statements, count_runs, list_runs


def _make_runs(n: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for i in range(n):
        config: dict[str, Any] = {}
        lr_kind = i % 5
        if lr_kind == 0:
            config["lr"] = rng.choice([0.1, 0.01, 0.001])
        elif lr_kind == 1:
            config["lr"] = rng.choice([1, 2, 10])
        elif lr_kind == 2:
            config["lr"] = rng.choice(["0.1", "fast", "1e-3"])
        elif lr_kind == 3:
            config["lr"] = None
        if i % 3:
            config["opt"] = {"name": rng.choice(["adam", "sgd", "Adam"]),
                             "beta": rng.choice([0.9, 0.99, 1])}
        config["batch"] = rng.choice([16, 32, 64])
        config["flag"] = rng.choice([True, False])
        summary: dict[str, Any] = {"_step": i}
        acc_kind = i % 7
        if acc_kind < 4:
            summary["acc"] = round(rng.random(), 3)
        elif acc_kind == 4:
            summary["acc"] = float("nan")
        elif acc_kind == 5:
            summary["acc"] = "n/a"
        if i % 4 == 0:
            summary["val"] = {"acc": round(rng.random(), 2)}
        summary["ok"] = i % 2 == 0
        out.append({
            "name": f"run{i:03d}",
            "display_name": rng.choice(["alpha", "beta", "gamma", None]),
            "state": rng.choice(["finished", "failed", "running", "crashed"]),
            "group": rng.choice(["g1", "g2", None]),
            "job_type": rng.choice(["train", "eval"]),
            "tags": rng.sample(["best", "baseline", "v2", "Exp"], k=rng.randint(0, 3)),
            "config": config,
            "summary": summary,
        })
    return out


RUNS = _make_runs(60)


def _summary_text(summary: dict[str, Any]) -> str:
    # Written the way the SDK writes it: NaN as a bare token.
    return "{" + ",".join(f"{orjson.dumps(k).decode()}:" + (
        "NaN" if isinstance(v, float) and math.isnan(v) else orjson.dumps(v).decode())
        for k, v in summary.items()) + "}"


def _populate(db: Database) -> tuple[Project, dict[str, int]]:
    upgrade(db)
    with db.write() as conn:
        user = accounts.create_user(conn, "alice", admin=False)
        entity = accounts.ensure_entity(conn, "alice")
        project = accounts.ensure_project(conn, entity, "filters")
        ids = {}
        for r in RUNS:
            config = {k: {"value": v} for k, v in r["config"].items()}
            run = run_repo.create_run(conn, project, r["name"], user.id, RunFields(
                display_name=r["display_name"], group=r["group"], job_type=r["job_type"],
                tags=tuple(r["tags"]), config=orjson.dumps(config).decode(),
                summary=_summary_text(r["summary"]), state=r["state"]))
            if r["display_name"] is None:
                run_repo.set_run_columns(conn, run.id, display_name=None)
            ids[r["name"]] = run.id
    return project, ids


@pytest.fixture(scope="module")
def store(module_metadata_url: str) -> Iterator[tuple[Database, Project, dict[str, int]]]:
    db = Database(module_metadata_url)
    project, ids = _populate(db)
    yield db, project, ids
    db.dispose()


FILTERS: list[dict[str, Any]] = [
    {},
    {"state": "finished"},
    {"state": {"$ne": "finished"}},
    {"state": {"$in": ["failed", "crashed"]}},
    {"state": {"$nin": ["failed", "crashed"]}},
    {"displayName": None},
    {"displayName": {"$exists": True}},
    {"displayName": {"$regex": "^a"}},
    {"group": {"$exists": False}},
    {"jobType": "train", "group": "g1"},
    {"name": {"$gte": "run030", "$lt": "run040"}},
    {"name": 5},
    {"config.lr": 0.1},
    {"config.lr": "0.1"},
    {"config.lr": 10},
    {"config.lr": {"$gt": 0.005}},
    {"config.lr": {"$lte": 1}},
    {"config.lr": {"$gt": "a"}},
    {"config.lr": None},
    {"config.lr": {"$exists": False}},
    {"config.lr": {"$exists": True}},
    {"config.lr": {"$ne": 0.1}},
    {"config.lr": {"$in": [0.1, "fast", 2]}},
    {"config.lr": {"$nin": [0.1, "fast", 2]}},
    {"config.lr": {"$regex": "^[0-9.e-]+$"}},
    {"config.lr.value": {"$gt": 1}},
    {"config.opt.name": "adam"},
    {"config.opt.name": {"$regex": "^adam$", "$options": "i"}},
    {"config.opt.beta": {"$gte": 0.99}},
    {"config.opt.beta": 1},
    {"config.flag": True},
    {"config.flag": {"$ne": False}},
    {"config.batch": {"$gt": 16, "$lte": 64}},
    {"config.batch": {"$not": {"$gt": 16}}},
    {"summary_metrics.acc": {"$gt": 0.5}},
    {"summary_metrics.acc": {"$lte": 0.5}},
    {"summary_metrics.acc": None},
    {"summary_metrics.acc": {"$exists": True}},
    {"summary_metrics.acc": "n/a"},
    {"summary_metrics.acc": {"$gte": None}},
    {"summary_metrics.acc": {"$gt": None}},
    {"summary_metrics.val.acc": {"$lt": 0.5}},
    {"summary_metrics.ok": True},
    {"summary_metrics.missing": {"$exists": False}},
    {"tags": "best"},
    {"tags": {"$in": ["best", "v2"]}},
    {"tags": {"$nin": ["best", "v2"]}},
    {"tags": {"$ne": "best"}},
    {"tags": {"$regex": "^exp$", "$options": "i"}},
    {"tags": ["best", "v2"]},
    {"$or": [{"config.lr": {"$gt": 1}}, {"summary_metrics.acc": "n/a"}]},
    {"$and": [{"state": "finished"}, {"$nor": [{"tags": "best"}, {"config.lr": None}]}]},
    {"$nor": [{"state": "finished"}, {"state": "failed"}]},
]


@pytest.mark.parametrize("f", FILTERS, ids=[orjson.dumps(f).decode() for f in FILTERS])
def test_filter_matches_oracle(store: tuple[Database, Project, dict[str, int]],
                               f: dict[str, Any]) -> None:
    db, project, _ = store
    expected = sorted(r["name"] for r in RUNS if match(r, f))
    with db.read() as conn:
        page = list_runs(conn, project.id, orjson.dumps(f).decode(), None, None, 1000)
        total = count_runs(conn, project.id, orjson.dumps(f).decode())
    assert sorted(r.name for r in page.runs) == expected
    assert total == len(expected)


@pytest.mark.parametrize("order", ["+config.lr", "-config.lr", "-summary_metrics.acc",
                                   "summary_metrics.acc", "+config.opt.beta", "-displayName",
                                   "+name", "-created_at", "summary_metrics.ok"])
def test_order_pages_match_oracle(store: tuple[Database, Project, dict[str, int]],
                                  order: str) -> None:
    db, project, ids = store
    expected = expected_order(RUNS, order, ids)
    names: list[str] = []
    after = None
    with db.read() as conn:
        while True:
            page = list_runs(conn, project.id, None, order, after, 7)
            names += [r.name for r in page.runs]
            if not page.has_next:
                break
            after = page.cursors[-1]
    assert names == [r["name"] for r in expected]


def test_pages_are_stable_while_runs_are_added(storage: Storage) -> None:
    db = storage.db
    project, _ = _populate(db)
    seen: list[str] = []
    after = None
    with db.read() as conn:
        page = list_runs(conn, project.id, None, "+created_at", after, 10)
    seen += [r.name for r in page.runs]
    after = page.cursors[-1]
    with db.write() as conn:
        for i in range(5):
            run_repo.create_run(conn, project, f"late{i}", None, RunFields())
    while True:
        with db.read() as conn:
            page = list_runs(conn, project.id, None, "+created_at", after, 10)
        seen += [r.name for r in page.runs]
        if not page.has_next:
            break
        after = page.cursors[-1]
    assert len(seen) == len(set(seen)) == len(RUNS) + 5
    assert seen[: len(RUNS)] == [r["name"] for r in RUNS]


BAD = [
    ("not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    ('{"$foo": 1}', "unknown filter operator '$foo'"),
    ('{"config.lr": {"$gtx": 1}}', "unknown filter operator '$gtx'"),
    ('{"nosuchfield": 1}', "unknown filter field 'nosuchfield'"),
    ('{"$or": {"state": "x"}}', "$or needs a non-empty list"),
    ('{"$and": []}', "$and needs a non-empty list"),
    ('{"config.lr": {"$in": 3}}', "needs a list"),
    ('{"config.lr": {"$exists": "yes"}}', "needs true or false"),
    ('{"config.lr": {"$regex": "("}}', "linear-time regex engine"),
    ('{"notes": {"$regex": "(a)\\\\1"}}', "no backreferences"),
    ('{"notes": {"$regex": "(?=a)"}}', "no backreferences or lookaround"),
    ('{"config.lr": {"$regex": "a", "$options": "z"}}', "$options supports only"),
    ('{"config.opt": {"name": "adam"}}', "cannot compare 'config.opt' with an object"),
    ('{"createdAt": {"$gt": "yesterday"}}', "ISO-8601"),
    ('{"tags": {"$gt": "a"}}', "does not apply to tags"),
    ('{"config.a..b": 1}', "empty path segment"),
    ('{"config.a\\"b": 1}', "unsupported key"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_filters_raise_invalid_input(store: tuple[Database, Project, dict[str, int]],
                                         text: str, message: str) -> None:
    db, project, _ = store
    with db.read() as conn, pytest.raises(InvalidInput, match=re.escape(message)):
        list_runs(conn, project.id, text, None, None, 10)


def test_deep_or_huge_filters_are_refused(store: tuple[Database, Project,
                                                        dict[str, int]]) -> None:
    db, project, _ = store
    deep: dict[str, Any] = {"state": "x"}
    for _ in range(40):
        deep = {"$and": [deep]}
    with db.read() as conn, pytest.raises(InvalidInput, match="nested too deeply"):
        list_runs(conn, project.id, orjson.dumps(deep).decode(), None, None, 10)
    huge = {"$or": [{"name": f"r{i}"} for i in range(2500)]}
    with db.read() as conn, pytest.raises(InvalidInput, match="too large"):
        list_runs(conn, project.id, orjson.dumps(huge).decode(), None, None, 10)


def test_bad_orders_and_cursors(store: tuple[Database, Project, dict[str, int]]) -> None:
    db, project, _ = store
    with db.read() as conn:
        with pytest.raises(InvalidInput, match="unknown filter field"):
            list_runs(conn, project.id, None, "-bogus", None, 10)
        with pytest.raises(InvalidInput, match="invalid cursor"):
            list_runs(conn, project.id, None, None, "%%%", 10)
        cursor = list_runs(conn, project.id, None, "+name", None, 5).cursors[-1]
        with pytest.raises(InvalidInput, match="another order"):
            list_runs(conn, project.id, None, "-name", cursor, 10)


def test_statement_timeout_cancels_a_slow_listing_query(
        store: tuple[Database, Project, dict[str, int]]) -> None:
    """On PostgreSQL a run listing's statements are bounded (run_filter_timeout_s), and a
    cancelled one is the caller's InvalidInput naming the limit; SQLite needs no bound."""
    db, project, _ = store
    if not db.url.startswith("postgresql"):
        with db.read() as conn:
            bound_statements(conn, 0.05)  # a no-op there
            assert count_runs(conn, project.id, None) > 0
        return
    with pytest.raises(InvalidInput, match="run_filter_timeout_s"), db.read() as conn:
        bound_statements(conn, 0.05)
        conn.exec_driver_sql("SELECT pg_sleep(2)")
    with db.read() as conn:  # the bound ends with its transaction
        conn.exec_driver_sql("SELECT pg_sleep(0.1)")
