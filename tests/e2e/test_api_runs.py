"""``wandb.Api()`` listing against a live server: viewer, projects, and ``api.runs()`` with
MongoDB-style filters and orders over 100 runs, compared with an independent oracle.

95 runs are written through the wire protocol (``http_writer``) and 5 by the real SDK; the
oracle reads each run's stored documents back from the server's store (after checking
they are what was sent) and says which runs a filter must select and in what order.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import LiveServer, SdkEnv
from tests.e2e.http_writer import HttpWriter, same_value
from tests.storage.filter_oracle import expected_order, match
from tracklet.storage.history.jsonline import loads
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata.run_query import list_runs

ENTITY = "admin"


def _http_specs(n: int) -> list[dict[str, Any]]:
    rng = random.Random(11)
    specs = []
    for i in range(n):
        config: dict[str, Any] = {"batch": rng.choice([16, 32, 64]),
                                  "flag": rng.choice([True, False])}
        kind = i % 5
        if kind == 0:
            config["lr"] = rng.choice([0.1, 0.01, 0.001])
        elif kind == 1:
            config["lr"] = rng.choice([1, 2, 10])
        elif kind == 2:
            config["lr"] = rng.choice(["0.1", "fast"])
        elif kind == 3:
            config["lr"] = None
        if i % 3:
            config["opt"] = {"name": rng.choice(["adam", "sgd", "Adam"]),
                             "beta": rng.choice([0.9, 0.99, 1])}
        summary: dict[str, Any] = {"_step": i}
        akind = i % 7
        if akind < 4:
            summary["acc"] = round(rng.random(), 4)
        elif akind == 4:
            summary["acc"] = float("nan")
        elif akind == 5:
            summary["acc"] = "n/a"
        if i % 4 == 0:
            summary["val"] = {"acc": round(rng.random(), 3)}
        specs.append({
            "name": f"h{i:03d}",
            "display_name": rng.choice(["alpha", "beta", "gamma"]),
            "group": rng.choice(["g1", "g2", None]),
            "job_type": rng.choice(["train", "eval", None]),
            "tags": rng.sample(["best", "baseline", "v2", "Exp"], k=rng.randint(0, 3)),
            "config": config,
            "summary": summary,
            "exit": rng.choice([0, 0, 1, None]),
        })
    return specs


SDK_SCRIPT = """
import wandb
for i, (lr, acc) in enumerate([(0.05, 0.91), (0.5, 0.42), ("0.05", 0.77), (3, 0.12),
                               (0.005, 0.99)]):
    run = wandb.init(project=PROJECT, id=f"sdk{i}", config={"lr": lr, "batch": 32,
                     "opt": {"name": "adam", "beta": 0.9}}, tags=["sdk", "best"][: i % 3],
                     group="g1" if i % 2 else None, job_type="train")
    for step in range(5):
        run.log({"acc": acc * (step + 1) / 5, "loss": 1.0 / (step + 1)})
    run.finish()
"""


@pytest.fixture(scope="module")
def project(live_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project of 100 runs; returns its name, the oracle runs and their storage ids."""
    from tests.e2e.conftest import sdk_environment

    name = f"filters-{uuid.uuid4().hex[:8]}"
    writer = HttpWriter(live_server.url, live_server.key)
    specs = _http_specs(95)
    for spec in specs:
        writer.create_run(ENTITY, name, spec["name"], config=spec["config"], tags=spec["tags"],
                          group=spec["group"], job_type=spec["job_type"],
                          display_name=spec["display_name"])
        writer.log(ENTITY, name, spec["name"], [{"x": 1}], summary=spec["summary"],
                   finish=spec["exit"] is not None, exit_code=spec["exit"] or 0)
    writer.close()
    workdir = tmp_path_factory.mktemp("sdk-runs")
    sdk = SdkEnv(live_server, workdir, sdk_environment(live_server, workdir))
    sdk.run(f"PROJECT = {name!r}\n" + SDK_SCRIPT)
    runs, ids, created, heartbeats = [], {}, {}, {}
    storage = live_server.storage()
    with storage.db.read() as conn:
        found = accounts.find_project(conn, ENTITY, name)
        assert found is not None
        for stored in list_runs(conn, found.id, None, "+created_at", None, 1000).runs:
            config = {k: v["value"] for k, v in loads(stored.config).items()
                      if k != "_wandb" and isinstance(v, dict) and "value" in v}
            runs.append({"name": stored.name, "display_name": stored.display_name,
                         "state": stored.state, "group": stored.group,
                         "job_type": stored.job_type, "tags": list(stored.tags),
                         "config": config, "summary": loads(stored.summary),
                         "username": stored.username, "created_at": stored.created_at,
                         "heartbeat_at": stored.heartbeat_at})
            ids[stored.name] = stored.id
            created[stored.name] = stored.created_at
            heartbeats[stored.name] = stored.heartbeat_at
    storage.close()
    assert len(runs) == 100
    by_name = {r["name"]: r for r in runs}
    for spec in specs:  # the store holds exactly what was sent
        stored = by_name[spec["name"]]
        assert same_value(stored["config"], spec["config"])
        assert same_value(stored["summary"], spec["summary"])
        assert stored["tags"] == spec["tags"]
        assert stored["state"] == {None: "running", 0: "finished", 1: "failed"}[spec["exit"]]
    return {"name": name, "runs": runs, "ids": ids, "created": created,
            "heartbeats": heartbeats}


def _iso(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc).isoformat()


def _filters(project: dict[str, Any]) -> list[dict[str, Any]]:
    created = sorted(project["created"].values())
    beats = sorted(project["heartbeats"].values())
    return [
        {},
        {"state": "finished"},
        {"state": {"$in": ["failed", "running"]}},
        {"state": {"$nin": ["finished"]}},
        {"displayName": "alpha"},
        {"displayName": {"$regex": "^(al|ga)"}},
        {"group": None},
        {"group": {"$exists": True}, "jobType": "train"},
        {"jobType": {"$ne": "eval"}},
        {"name": {"$gte": "h050", "$lt": "h060"}},
        {"name": {"$regex": "^sdk"}},
        {"username": "admin"},
        {"username": {"$ne": "admin"}},
        {"createdAt": {"$gte": _iso(created[60])}},
        {"createdAt": {"$lt": created[10]}},
        {"heartbeatAt": {"$lte": _iso(beats[40])}},
        {"config.lr": 0.1},
        {"config.lr": "0.1"},
        {"config.lr": {"$gt": 0.04}},
        {"config.lr": {"$lte": 2}},
        {"config.lr": {"$gte": "a"}},
        {"config.lr": None},
        {"config.lr": {"$exists": False}},
        {"config.lr": {"$ne": 0.05}},
        {"config.lr": {"$in": [0.1, "fast", 2, "0.05"]}},
        {"config.lr": {"$nin": [0.1, "fast"]}},
        {"config.lr.value": {"$lt": 1}},
        {"config.opt.name": "adam"},
        {"config.opt.name": {"$regex": "^ADAM$", "$options": "i"}},
        {"config.opt.beta": {"$gte": 0.99}},
        {"config.flag": True},
        {"config.batch": {"$not": {"$gt": 16}}},
        {"summary_metrics.acc": {"$gt": 0.5}},
        {"summary_metrics.acc": {"$lte": 0.5}},
        {"summary_metrics.acc": "n/a"},
        {"summary_metrics.acc": None},
        {"summary_metrics.acc": {"$exists": True}},
        {"summary_metrics.val.acc": {"$gte": 0.5}},
        {"summary_metrics.loss": {"$lt": 0.3}},
        {"tags": "best"},
        {"tags": {"$in": ["v2", "sdk"]}},
        {"tags": {"$nin": ["best"]}},
        {"tags": {"$regex": "^exp", "$options": "i"}},
        {"$or": [{"config.lr": {"$gt": 1}}, {"summary_metrics.acc": "n/a"}]},
        {"$and": [{"state": "finished"}, {"$nor": [{"tags": "best"}, {"config.lr": None}]}]},
        {"$nor": [{"state": "finished"}, {"group": "g2"}]},
    ]


def test_filters_match_oracle(api: Any, project: dict[str, Any]) -> None:
    path = f"{ENTITY}/{project['name']}"
    failures = []
    for f in _filters(project):
        expected = sorted(r["name"] for r in project["runs"] if match(r, f))
        runs = api.runs(path, filters=f, per_page=40)
        got = sorted(r.id for r in runs)
        if got != expected or len(runs) != len(expected):
            failures.append((f, len(expected), len(got), len(runs)))
    assert not failures


@pytest.mark.parametrize("order", ["+config.lr", "-config.lr", "-summary_metrics.acc",
                                   "+summary_metrics.acc", "summary_metrics.val.acc",
                                   "config.opt.name", "-displayName", "-created_at",
                                   "+created_at", "-name"])
def test_orders_match_oracle_across_pages(api: Any, project: dict[str, Any],
                                          order: str) -> None:
    runs = api.runs(f"{ENTITY}/{project['name']}", order=order, per_page=7)
    got = [r.id for r in runs]
    expected = [r["name"] for r in expected_order(project["runs"], order, project["ids"])]
    assert got == expected


def test_filter_and_order_together(api: Any, project: dict[str, Any]) -> None:
    f = {"state": "finished", "summary_metrics.acc": {"$gte": 0.2}}
    selected = [r for r in project["runs"] if match(r, f)]
    runs = api.runs(f"{ENTITY}/{project['name']}", filters=f,
                    order="-summary_metrics.acc", per_page=5)
    expected = expected_order(selected, "-summary_metrics.acc", project["ids"])
    assert [r.id for r in runs] == [r["name"] for r in expected]
    assert len(runs) == len(selected)
    accs = [r.summary["acc"] for r in runs]
    assert accs == sorted(accs, reverse=True)


def test_full_listing_loads_config_and_summary(api: Any, project: dict[str, Any]) -> None:
    runs = list(api.runs(f"{ENTITY}/{project['name']}", filters={"name": {"$regex": "^sdk"}},
                         lazy=False))
    by_name = {r["name"]: r for r in project["runs"]}
    assert len(runs) == 5
    for run in runs:
        expected = by_name[run.id]
        assert run.config == expected["config"]
        assert same_value(run.summary_metrics, expected["summary"])
        assert run.state == "finished"


def test_pages_stay_stable_while_runs_are_created(api: Any, live_server: LiveServer,
                                                  project: dict[str, Any]) -> None:
    name = f"stable-{uuid.uuid4().hex[:8]}"
    writer = HttpWriter(live_server.url, live_server.key)
    for i in range(30):
        writer.create_run(ENTITY, name, f"r{i:02d}")
    runs = api.runs(f"{ENTITY}/{name}", per_page=10)
    it = iter(runs)
    seen = [next(it).id for _ in range(10)]
    for i in range(7):
        writer.create_run(ENTITY, name, f"late{i}")
    while True:  # not `for r in it`: the SDK's paginator restarts on iter()
        try:
            seen.append(next(it).id)
        except StopIteration:
            break
    writer.close()
    assert len(seen) == len(set(seen))
    assert seen[:30] == [f"r{i:02d}" for i in range(30)]
    assert set(seen[30:]) <= {f"late{i}" for i in range(7)}


RUNS_QUERY = """query Runs($project: String!, $entity: String!, $filters: JSONString,
    $order: String) { project(name: $project, entityName: $entity) {
    runCount(filters: $filters) runs(filters: $filters, order: $order, first: 5) {
    edges { node { name } cursor } pageInfo { endCursor hasNextPage } } } }"""


@pytest.mark.parametrize(("filters", "order", "message"), [
    ("not json", None, "filters are not valid JSON"),
    ('{"$where": "1"}', None, "unknown filter operator '$where'"),
    ('{"config.lr": {"$gtx": 1}}', None, "unknown filter operator '$gtx'"),
    ('{"bogus": 1}', None, "unknown filter field 'bogus'"),
    ('{"$or": "x"}', None, "$or needs a non-empty list"),
    ('{"config.lr": {"$regex": "(["}}', None, "invalid $regex"),
    ('{"createdAt": {"$gt": "tuesday"}}', None, "ISO-8601"),
    ("{}", "-nosuch", "unknown filter field 'nosuch'"),
])
def test_bad_filters_give_a_clear_graphql_error(live_server: LiveServer,
                                                project: dict[str, Any], filters: str,
                                                order: str | None, message: str) -> None:
    response = httpx.post(f"{live_server.url}/graphql", auth=("api", live_server.key),
                          json={"query": RUNS_QUERY, "variables": {
                              "project": project["name"], "entity": ENTITY,
                              "filters": filters, "order": order}}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] and message in body["errors"][0]["message"]
    assert "internal server error" not in json.dumps(body)


def test_bad_filter_through_the_sdk(api: Any, project: dict[str, Any]) -> None:
    with pytest.raises(Exception, match=r"unknown filter operator '\$foo'"):
        list(api.runs(f"{ENTITY}/{project['name']}", filters={"$foo": 1}))


def test_viewer_default_entity_and_projects(api: Any, project: dict[str, Any]) -> None:
    assert api.default_entity == ENTITY
    viewer = api.viewer
    assert viewer.username == ENTITY and viewer.entity == ENTITY
    names = [p.name for p in api.projects(ENTITY, per_page=2)]
    assert project["name"] in names and len(names) == len(set(names))
    proj = api.project(project["name"], entity=ENTITY)
    assert proj.entity == ENTITY and proj.name == project["name"]
    assert proj.created_at.startswith("20")
    assert proj.owner.username == ENTITY


def test_other_users_see_nothing(live_server: LiveServer, project: dict[str, Any],
                                 tmp_path: Any) -> None:
    import wandb

    key = "local-" + "eve0" * 11
    storage = live_server.storage()
    try:
        storage.create_user("eve", key=key)
    finally:
        storage.close()
    eve = wandb.Api(api_key=key, overrides={"base_url": live_server.url}, timeout=60)
    path = f"{ENTITY}/{project['name']}"
    # Refused exactly as a project that does not exist.
    with pytest.raises(ValueError, match=f"Could not find project {project['name']}"):
        list(eve.runs(path))
    with pytest.raises(ValueError, match="Could not find project no-such-project"):
        list(eve.runs(f"{ENTITY}/no-such-project"))
    with pytest.raises(Exception, match=r"not found|Could not find"):
        eve.run(f"{path}/h000")
    response = httpx.post(f"{live_server.url}/graphql", auth=("api", key), json={
        "query": RUNS_QUERY, "variables": {"project": project["name"], "entity": ENTITY}},
        timeout=30)
    assert response.status_code == 200 and response.json()["data"]["project"] is None
