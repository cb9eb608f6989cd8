"""Regression (issue 17, finding 1): a ``$regex`` run filter cannot freeze the server.

``^(a|a)+$`` over 40 characters of notes took days on Python's backtracking ``re``; on
RE2 (SQLite) and PostgreSQL's engine it answers at once, and ``/health`` stays responsive
while it runs. Patterns neither engine can run in linear time are refused by name.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from tests.e2e.http_writer import HttpWriter
from tests.support.app import InProcessApp

RUNS = """query Runs($filters: JSONString) {
  project(name: "redos", entityName: "admin") {
    runs(filters: $filters, first: 10) { edges { node { name } } } } }"""


def _runs(app: InProcessApp, filters: dict[str, Any]) -> Any:
    return app.client.post("/graphql", json={
        "query": RUNS, "variables": {"filters": json.dumps(filters)}})


def test_catastrophic_pattern_answers_at_once_and_health_stays_up(app: InProcessApp) -> None:
    writer = HttpWriter("", app.key, client=app.client)
    writer.create_run("admin", "redos", "victim", notes="a" * 39 + "b")
    writer.create_run("admin", "redos", "match", notes="a" * 40)
    answers: list[Any] = []
    elapsed: list[float] = []

    def attack() -> None:
        started = time.perf_counter()
        answers.append(_runs(app, {"notes": {"$regex": "^(a|a)+$"}}))
        elapsed.append(time.perf_counter() - started)

    thread = threading.Thread(target=attack, daemon=True)
    thread.start()
    health = []
    while thread.is_alive() and len(health) < 20:
        started = time.perf_counter()
        assert app.client.get("/health").status_code == 200
        health.append(time.perf_counter() - started)
    thread.join(timeout=5)
    assert not thread.is_alive(), "the $regex filter is still running after 5 s"
    assert elapsed[0] < 0.5, elapsed
    assert max(health, default=0.0) < 0.5, health
    response = answers[0]
    assert response.status_code == 200, response.text
    names = [e["node"]["name"] for e in response.json()["data"]["project"]["runs"]["edges"]]
    assert names == ["match"]
    # Case-insensitive, on a tag list and a config value too.
    ci = _runs(app, {"notes": {"$regex": "^(A|A)+$", "$options": "i"}}).json()
    assert [e["node"]["name"] for e in ci["data"]["project"]["runs"]["edges"]] == ["match"]


def test_patterns_that_need_backtracking_are_refused(app: InProcessApp) -> None:
    HttpWriter("", app.key, client=app.client).create_run("admin", "redos", "r", notes="aa")
    for pattern, limit in [(r"^(a)\1$", "no backreferences"),
                           ("a(?=a)", "lookaround"),
                           ("a" * 1001, "over the limit of 1000")]:
        body = _runs(app, {"notes": {"$regex": pattern}}).json()
        assert body["data"]["project"]["runs"] is None
        assert limit in body["errors"][0]["message"]
