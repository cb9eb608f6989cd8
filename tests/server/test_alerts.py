"""Run alerts (NotifyScriptableRunAlert, as wandb-core sends ``run.alert``): stored, rate
limited per run and title by waitDuration (milliseconds on the wire), read back through
``Run.alerts``; bad input is a clear 4xx."""

from __future__ import annotations

from typing import Any

from tests.support.app import InProcessApp

NOTIFY = """mutation NotifyScriptableRunAlert($entityName: String!, $projectName: String!,
    $runName: String!, $title: String!, $text: String!, $severity: AlertSeverity = INFO,
    $waitDuration: Duration) {
  notifyScriptableRunAlert(input: {entityName: $entityName, projectName: $projectName,
      runName: $runName, title: $title, text: $text, severity: $severity,
      waitDuration: $waitDuration}) { success } }"""

BUCKET = """mutation B($name: String!) { upsertBucket(input: {name: $name, modelName: "al",
  entityName: "admin"}) { bucket { id } } }"""

ALERTS = """query A($name: String!) { project(name: "al", entityName: "admin") {
  run(name: $name) { alerts { id title text severity waitDuration createdAt } } } }"""


def _notify(app: InProcessApp, run: str, title: str, wait_ms: int | None = 60_000,
            **extra: Any) -> Any:
    return app.client.post("/graphql", json={"query": NOTIFY, "variables": {
        "entityName": "admin", "projectName": "al", "runName": run, "title": title,
        "text": f"{title}!", "waitDuration": wait_ms, **extra}})


def _alerts(app: InProcessApp, run: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = app.graphql(ALERTS, {"name": run})["data"]["project"][
        "run"]["alerts"]
    return alerts


def test_alerts_are_stored_and_rate_limited_per_title(app: InProcessApp) -> None:
    for name in ("r1", "r2"):
        app.graphql(BUCKET, {"name": name})
    assert _notify(app, "r1", "hot", severity="ERROR").json() == {
        "data": {"notifyScriptableRunAlert": {"success": True}}}
    assert _notify(app, "r1", "hot").status_code == 200  # within a minute: dropped
    assert _notify(app, "r1", "cold", wait_ms=0).status_code == 200
    assert _notify(app, "r1", "cold", wait_ms=0).status_code == 200  # no wait: kept
    assert _notify(app, "r2", "hot").status_code == 200  # another run: its own limit
    r1 = _alerts(app, "r1")
    assert [(a["title"], a["severity"], a["waitDuration"]) for a in r1] == [
        ("hot", "ERROR", 60.0), ("cold", "INFO", 0.0), ("cold", "INFO", 0.0)]
    assert r1[0]["text"] == "hot!" and r1[0]["createdAt"]
    assert len({a["id"] for a in r1}) == 3
    assert [a["title"] for a in _alerts(app, "r2")] == ["hot"]


def test_bad_alerts_are_client_errors(app: InProcessApp) -> None:
    app.graphql(BUCKET, {"name": "r1"})
    assert _notify(app, "nope", "x").status_code == 404
    assert _notify(app, "r1", "x", severity="LOUD").status_code == 400
    assert _notify(app, "r1", "x", wait_ms=-5).status_code == 400
    empty = _notify(app, "r1", "")
    assert empty.status_code == 400
    assert "an alert needs a title" in empty.json()["errors"][0]["message"]
    _user, key = app.storage.create_user("mallory")
    foreign = app.client.post("/graphql", auth=("api", key), json={
        "query": NOTIFY, "variables": {"entityName": "admin", "projectName": "al",
                                       "runName": "r1", "title": "x", "text": "y"}})
    assert foreign.status_code == 403
    assert _alerts(app, "r1") == []
