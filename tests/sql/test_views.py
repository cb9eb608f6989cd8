"""What ``runs``, ``system_metrics`` and ``artifacts`` hold: the run's fields, its config
and summary (whole as JSON and flattened into typed columns), its system-metric samples and
the live artifact versions of the user's projects, and nobody else's."""

from __future__ import annotations

from typing import Any

from tests.sql.writer import RunWriter
from tests.support.app import InProcessApp
from tests.support.artifact_flow import new_caller


def rows(app: InProcessApp, sql: str, key: str | None = None) -> list[dict[str, Any]]:
    auth = {"auth": ("api", key)} if key else {}
    response = app.client.post("/api/v1/query", json={"sql": sql}, **auth)
    assert response.status_code == 200, response.text
    body = response.json()
    names = [c["name"] for c in body["columns"]]
    return [dict(zip(names, r, strict=True)) for r in body["rows"]]


def test_runs_view(app: InProcessApp) -> None:
    run = RunWriter(app, "admin", "views", "r1", group="g1", tags=["a", "b"], config={
        "lr": 0.001, "epochs": 3, "opt": {"name": "adam", "beta": [0.9, 0.99]},
        "big": 2**70, "flag": True})
    run.log([{"_step": 0, "loss": 1.0}])
    run.finish(summary={"loss": 0.5, "_runtime": 12.5, "best": {"acc": 0.9}})
    RunWriter(app, "admin", "views", "r2", config={"lr": 2, "opt": {"name": "sgd"}})
    got = rows(app, """SELECT run, entity, project, id, state, "group", tags, "user",
                       runtime, last_step, config, summary, "config.lr", "config.epochs",
                       "config.opt.name", "config.opt.beta", "config.big", "config.flag",
                       "summary.best.acc", typeof("config.lr") AS lr_type,
                       typeof("config.epochs") AS epochs_type, typeof(created_at) AS ts,
                       config->>'$.opt.name' AS opt
                       FROM runs ORDER BY id""")
    first, second = got
    assert first["run"] == "admin/views/r1" and first["entity"] == "admin"
    assert (first["project"], first["id"], first["state"]) == ("views", "r1", "finished")
    assert first["group"] == "g1" and first["tags"] == ["a", "b"] and first["user"] == "admin"
    assert first["runtime"] == 12.5 and first["last_step"] == 0
    assert first["config"] == {"lr": 0.001, "epochs": 3, "big": 2**70, "flag": True,
                               "opt": {"name": "adam", "beta": [0.9, 0.99]}}
    assert first["summary"] == {"loss": 0.5, "_runtime": 12.5, "best": {"acc": 0.9}}
    assert first["config.lr"] == 0.001 and first["config.epochs"] == 3
    assert first["config.opt.name"] == "adam" and first["config.flag"] is True
    assert first["config.opt.beta"] == "[0.9,0.99]"  # a list: its JSON text
    assert first["config.big"] == str(2**70)
    assert first["summary.best.acc"] == 0.9 and first["opt"] == "adam"
    # lr is 0.001 in one run and 2 in the other: a DOUBLE column; epochs only ints.
    assert first["lr_type"] == "DOUBLE" and first["epochs_type"] == "BIGINT"
    assert first["ts"] == "TIMESTAMP WITH TIME ZONE"
    assert second["config.lr"] == 2.0 and second["config.epochs"] is None
    assert second["state"] == "running"


def test_system_metrics_view(app: InProcessApp) -> None:
    run = RunWriter(app, "admin", "views", "sys")
    run.system([{"system.cpu": 10.5, "system.gpu.0.gpu": 3, "_timestamp": 1.0},
                {"system.cpu": 20.0, "_timestamp": 2.0}])
    got = rows(app, 'SELECT run, "system.cpu", "system.gpu.0.gpu", _timestamp '
                    "FROM system_metrics ORDER BY _timestamp")
    assert got == [
        {"run": "admin/views/sys", "system.cpu": 10.5, "system.gpu.0.gpu": 3,
         "_timestamp": 1.0},
        {"run": "admin/views/sys", "system.cpu": 20.0, "system.gpu.0.gpu": None,
         "_timestamp": 2.0}]


def test_artifacts_view(app: InProcessApp) -> None:
    carol = new_caller(app, "carol")
    dave = new_caller(app, "dave")
    carol.log("data", "mnist", {"a.txt": b"first"})
    carol.log("data", "mnist", {"a.txt": b"second"})
    dave.log("data", "secret-set", {"b.txt": b"dave's"})
    got = rows(app, "SELECT entity, project, collection, type, version, aliases, size, "
                    "file_count FROM artifacts ORDER BY version", key=carol.key)
    assert got == [
        {"entity": "carol", "project": "data", "collection": "mnist", "type": "dataset",
         "version": "v0", "aliases": [], "size": 5, "file_count": 1},
        {"entity": "carol", "project": "data", "collection": "mnist", "type": "dataset",
         "version": "v1", "aliases": ["latest"], "size": 6, "file_count": 1}]
    assert rows(app, "SELECT collection FROM artifacts", key=dave.key) == [
        {"collection": "secret-set"}]
