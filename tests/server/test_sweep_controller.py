"""The sweep controller through GraphQL, as the SDK's agent drives it: UpsertSweep, CreateAgent
and AgentHeartbeat on every deployment kind (the state lives in the database)."""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.e2e.http_writer import HttpWriter
from tests.support.app import InProcessApp

UPSERT = """mutation UpsertSweep($id: ID, $config: String, $entityName: String,
    $projectName: String, $state: String, $priorRunsFilters: JSONString) {
  upsertSweep(input: {id: $id, config: $config, entityName: $entityName,
      projectName: $projectName, state: $state, priorRunsFilters: $priorRunsFilters}) {
    sweep { id name state project { name entity { name } } }
    configValidationWarnings } }"""

AGENT = """mutation CreateAgent($host: String!, $projectName: String, $entityName: String,
    $sweep: String!) {
  createAgent(input: {host: $host, projectName: $projectName, entityName: $entityName,
      sweep: $sweep}) { agent { id } } }"""

HEARTBEAT = """mutation Heartbeat($id: ID!, $metrics: JSONString, $runState: JSONString) {
  agentHeartbeat(input: {id: $id, metrics: $metrics, runState: $runState}) {
    agent { id } commands } }"""

SWEEP = """query S($name: String!) { project(name: "sweeps", entityName: "admin") {
  totalSweeps
  sweep(sweepName: $name) { name state runCount runCountExpected bestLoss config configJson
    agents { edges { node { name host state totalRuns } } }
    runs { edges { node { name config shouldStop running } } } } } }"""

BUCKET = """mutation B($name: String!, $sweep: String, $summary: JSONString) {
  upsertBucket(input: {name: $name, modelName: "sweeps", entityName: "admin", sweep: $sweep,
      summaryMetrics: $summary}) { bucket { id } } }"""

GRID = {"method": "grid", "metric": {"name": "loss"},
        "parameters": {"x": {"values": [0, 1, 2]}, "y": {"values": ["a", "b"]}}}


def _create(app: InProcessApp, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = app.graphql(UPSERT, {"config": yaml.safe_dump(config), "entityName": "admin",
                                "projectName": "sweeps", **extra})
    assert "errors" not in body, body
    sweep: dict[str, Any] = body["data"]["upsertSweep"]["sweep"]
    return sweep


def _agent(app: InProcessApp, sweep: str) -> str:
    body = app.graphql(AGENT, {"host": "box", "entityName": "admin", "projectName": "sweeps",
                               "sweep": sweep})
    assert "errors" not in body, body
    agent_id: str = body["data"]["createAgent"]["agent"]["id"]
    return agent_id


def _beat(app: InProcessApp, agent: str,
          running: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    body = app.graphql(HEARTBEAT, {"id": agent, "metrics": "{}",
                                   "runState": json.dumps({r: True for r in running})})
    assert "errors" not in body, body
    commands: list[dict[str, Any]] = json.loads(body["data"]["agentHeartbeat"]["commands"])
    return commands


def _run(app: InProcessApp, name: str, sweep: str | None = None,
         summary: dict[str, Any] | None = None) -> None:
    body = app.graphql(BUCKET, {"name": name, "sweep": sweep,
                                "summary": None if summary is None else json.dumps(summary)})
    assert "errors" not in body, body


def _state(app: InProcessApp, sweep: dict[str, Any], state: str) -> dict[str, Any]:
    response = app.client.post("/graphql", json={"query": UPSERT, "variables": {
        "id": sweep["id"], "state": state, "entityName": "admin", "projectName": "sweeps"}})
    body: dict[str, Any] = response.json()
    assert response.status_code == (400 if "errors" in body else 200), response.text
    return body


def _read(app: InProcessApp, name: str) -> dict[str, Any]:
    sweep: dict[str, Any] = app.graphql(SWEEP, {"name": name})["data"]["project"]["sweep"]
    return sweep


def test_grid_is_handed_out_once_across_agents_then_finishes(app: InProcessApp) -> None:
    sweep = _create(app, GRID)
    assert sweep["state"] == "RUNNING"
    assert sweep["project"] == {"name": "sweeps", "entity": {"name": "admin"}}
    agents = [_agent(app, sweep["name"]), _agent(app, sweep["name"])]
    handed: list[tuple[Any, ...]] = []
    names: set[str] = set()
    for i in range(6):
        (command,) = _beat(app, agents[i % 2])
        assert command["type"] == "run"
        handed.append((command["args"]["x"]["value"], command["args"]["y"]["value"]))
        names.add(command["run_id"])
    assert sorted(handed) == [(x, y) for x in (0, 1, 2) for y in ("a", "b")]
    assert len(names) == 6
    assert [c["type"] for c in _beat(app, agents[0])] == ["exit"]
    read = _read(app, sweep["name"])
    assert read["state"] == "FINISHED"
    assert read["runCountExpected"] == 6
    assert sorted(a["node"]["totalRuns"] for a in read["agents"]["edges"]) == [3, 3]


def test_an_agent_with_a_running_run_gets_no_second_one(app: InProcessApp) -> None:
    sweep = _create(app, GRID)
    agent = _agent(app, sweep["name"])
    (first,) = _beat(app, agent)
    assert _beat(app, agent, (first["run_id"],)) == []
    (second,) = _beat(app, agent)
    assert second["run_id"] != first["run_id"]


def test_run_cap_stops_random_sweep(app: InProcessApp) -> None:
    sweep = _create(app, {"method": "random", "run_cap": 3,
                          "parameters": {"lr": {"min": 0.001, "max": 0.1}}})
    agent = _agent(app, sweep["name"])
    values = [_beat(app, agent)[0]["args"]["lr"]["value"] for _ in range(3)]
    assert all(0.001 <= v <= 0.1 for v in values)
    assert [c["type"] for c in _beat(app, agent)] == ["exit"]
    assert _read(app, sweep["name"])["runCountExpected"] == 3


def test_pause_resume_stop(app: InProcessApp) -> None:
    sweep = _create(app, {"method": "random", "parameters": {"a": {"values": [1, 2]}}})
    agent = _agent(app, sweep["name"])
    assert "errors" not in _state(app, sweep, "PAUSED")
    assert _beat(app, agent) == [] and _beat(app, agent) == []
    assert "errors" not in _state(app, sweep, "RUNNING")
    (run,) = _beat(app, agent)
    assert run["type"] == "run"
    assert "errors" not in _state(app, sweep, "FINISHED")
    assert _beat(app, agent, (run["run_id"],)) == []  # the running run may finish
    assert [c["type"] for c in _beat(app, agent)] == ["exit"]
    refused = _state(app, sweep, "PAUSED")
    assert "cannot become paused" in refused["errors"][0]["message"]


def test_cancel_stops_running_runs_then_exits(app: InProcessApp) -> None:
    sweep = _create(app, {"method": "random", "parameters": {"a": {"values": [1, 2]}}})
    agent = _agent(app, sweep["name"])
    (run,) = _beat(app, agent)
    _run(app, run["run_id"], sweep["name"])
    assert "errors" not in _state(app, sweep, "CANCELED")
    stop = _beat(app, agent, (run["run_id"],))
    assert [(c["type"], c["run_id"]) for c in stop] == [("stop", run["run_id"])]
    runs = _read(app, sweep["name"])["runs"]["edges"]
    assert [(r["node"]["name"], r["node"]["shouldStop"]) for r in runs] == [
        (run["run_id"], True)]
    assert [c["type"] for c in _beat(app, agent)] == ["exit"]


def test_runs_report_the_sweep_and_best_loss(app: InProcessApp) -> None:
    sweep = _create(app, {"method": "grid", "metric": {"name": "loss", "goal": "maximize"},
                          "parameters": {"x": {"values": [1, 2, 3]}}})
    agent = _agent(app, sweep["name"])
    for loss in (0.5, 2.5, 1.5):
        (run,) = _beat(app, agent)
        _run(app, run["run_id"], sweep["name"], {"loss": loss})
    read = _read(app, sweep["name"])
    assert read["runCount"] == 3
    assert read["bestLoss"] == 2.5
    # configJson: the YAML text as sent, parsed (the web UI reads the metric from it).
    assert json.loads(read["configJson"]) == yaml.safe_load(read["config"])
    assert json.loads(read["configJson"])["metric"] == {"name": "loss", "goal": "maximize"}


def test_update_replaces_config_and_prior_runs_join(app: InProcessApp) -> None:
    _run(app, "earlier")
    sweep = _create(app, GRID, priorRunsFilters=json.dumps({"$or": [{"name": "earlier"}]}))
    assert _read(app, sweep["name"])["runCount"] == 1
    new = {**GRID, "parameters": {"x": {"values": [7]}}}
    body = app.graphql(UPSERT, {"id": sweep["id"], "config": yaml.safe_dump(new)})
    assert "errors" not in body, body
    agent = _agent(app, sweep["name"])
    assert _beat(app, agent)[0]["args"] == {"x": {"value": 7}}


def test_bad_configs_are_clear_errors(app: InProcessApp) -> None:
    cases = {
        "method: nope\nparameters: {a: {values: [1]}}": "invalid sweep method 'nope'",
        "method: bayes\nparameters: {a: {min: 0.0, max: 1.0}}": "the bayes method needs a metric",
        "method: random\nparameters: {a: {min: 2.0, max: 1.0}}": "must be less than max",
        "method: grid\nparameters: {a: {min: 0.0, max: 1.0}}": "the grid method needs values",
        "method: random\nparameters: {a: {distribution: zipf, min: 1, max: 2}}":
            "unknown distribution 'zipf'",
        "method: [": "not valid YAML",
    }
    for text, message in cases.items():
        response = app.client.post("/graphql", json={"query": UPSERT, "variables": {
            "config": text, "entityName": "admin", "projectName": "sweeps"}})
        assert 400 <= response.status_code < 500, (text, response.text)
        assert message in response.json()["errors"][0]["message"], (text, response.text)


def test_unknown_agent_is_not_found(app: InProcessApp) -> None:
    response = app.client.post("/graphql", json={"query": HEARTBEAT, "variables": {
        "id": "QWdlbnQ6OTk5OTk=", "runState": "{}"}})
    assert response.status_code == 404
    assert "agent not found" in response.json()["errors"][0]["message"]


def test_sweep_of_another_entity_is_refused_as_not_found(app: InProcessApp) -> None:
    """Another user's sweep answers as a missing one would (nothing learnt about it)."""
    sweep = _create(app, GRID)
    _user, other_key = app.storage.create_user("mallory")
    answers = []
    for name in (sweep["name"], "nosuchsweep"):
        response = app.client.post("/graphql", auth=("api", other_key), json={
            "query": AGENT, "variables": {"host": "h", "entityName": "admin",
                                          "projectName": "sweeps", "sweep": name}})
        answers.append((response.status_code,
                        response.json()["errors"][0]["message"].replace(name, "NAME")))
    assert answers[0][0] == 404 and answers[0] == answers[1], answers


def test_hyperband_stops_a_run_behind_the_others(app: InProcessApp) -> None:
    sweep = _create(app, {"method": "random", "metric": {"name": "loss"},
                          "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
                          "parameters": {"a": {"values": [1, 2]}}})
    writer = HttpWriter("", app.key, client=app.client)
    agent = _agent(app, sweep["name"])
    for i, losses in enumerate(([1.0, 0.5, 0.4], [0.9, 0.6, 0.5], [0.8, 0.7, 0.6])):
        _run(app, f"done{i}", sweep["name"])
        writer.log("admin", "sweeps", f"done{i}", [{"loss": v} for v in losses], finish=True)
    (bad,) = _beat(app, agent)
    _run(app, bad["run_id"], sweep["name"])
    writer.log("admin", "sweeps", bad["run_id"], [{"loss": 5.0}])
    assert _beat(app, agent, (bad["run_id"],)) == []  # one iteration: not judged yet
    writer.log("admin", "sweeps", bad["run_id"], [{"loss": 4.0}], offset=1)
    stop = _beat(app, agent, (bad["run_id"],))
    assert [(c["type"], c["run_id"]) for c in stop] == [("stop", bad["run_id"])]
    other = _agent(app, sweep["name"])
    (good,) = _beat(app, other)
    _run(app, good["run_id"], sweep["name"])
    writer.log("admin", "sweeps", good["run_id"], [{"loss": 0.3}, {"loss": 0.2}])
    assert _beat(app, other, (good["run_id"],)) == []


SWEEPS = """query GetSweeps($project: String!, $entity: String!, $cursor: String,
    $perPage: Int = 50) {
  project(name: $project, entityName: $entity) {
    totalSweeps
    sweeps(after: $cursor, first: $perPage) {
      pageInfo { endCursor hasNextPage }
      edges { node { __typename id name displayName method state description bestLoss
        config createdAt updatedAt runCount runCountExpected } } } } }"""


def test_project_lists_its_sweeps_in_pages(app: InProcessApp) -> None:
    made = [_create(app, GRID)["name"] for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        body = app.graphql(SWEEPS, {"project": "sweeps", "entity": "admin", "cursor": cursor,
                                    "perPage": 2})
        assert "errors" not in body, body
        project = body["data"]["project"]
        assert project["totalSweeps"] == 3
        page = project["sweeps"]
        seen += [e["node"]["name"] for e in page["edges"]]
        assert all(e["node"]["method"] == "grid" and e["node"]["runCountExpected"] == 6
                   for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert seen == made[::-1]
