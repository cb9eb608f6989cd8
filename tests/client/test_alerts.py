"""``run.alert`` against a live server: sent at once online, journaled and sent by ``tracklet
sync`` offline, each alert exactly once; read back through GraphQL ``Run.alerts``."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import wandb

import tracklet
from tests.client.helpers import ENTITY, project
from tests.e2e.conftest import LiveServer
from tracklet.client.credentials import Credentials
from tracklet.client.sync import is_synced, sync_run


def _alerts(server: LiveServer, name: str, run_id: str) -> list[tuple[str, str, str, int]]:
    body = httpx.post(f"{server.url}/graphql", auth=("api", server.key), timeout=30, json={
        "query": """query A($p: String!, $e: String!, $r: String!) {
            project(name: $p, entityName: $e) {
              run(name: $r) { alerts { title text severity waitDuration } } } }""",
        "variables": {"p": name, "e": ENTITY, "r": run_id}}).json()
    run = body["data"]["project"]["run"]
    return [(a["title"], a["text"], a["severity"], a["waitDuration"]) for a in run["alerts"]]


def test_online_alerts_are_sent_at_once(client_env: Path, live_server: LiveServer) -> None:
    name = project()
    with tracklet.init(name, dir=client_env) as run:
        run.log({"loss": 9.0})
        run.alert("loss high", "loss is 9", level=wandb.AlertLevel.WARN, wait_duration=300)
        run.alert("loss high", "loss is 10", wait_duration=300)  # inside the wait: dropped
        tracklet.alert("slow", "epoch took long", level="error",
                       wait_duration=timedelta(minutes=2))
        expected = [("loss high", "loss is 9", "WARN", 300), ("slow", "epoch took long",
                                                               "ERROR", 120)]
        # Before finish: the uploader sends alerts as it goes.
        deadline = time.monotonic() + 30
        while _alerts(live_server, name, run.id) != expected:
            assert time.monotonic() < deadline, _alerts(live_server, name, run.id)
            time.sleep(0.1)
        run.alert("done", "all good")
    assert _alerts(live_server, name, run.id) == [*expected, ("done", "all good", "INFO", 60)]


def test_bad_alerts_are_refused_in_the_caller(client_env: Path) -> None:
    with tracklet.init(project(), mode="offline", dir=client_env) as run:
        with pytest.raises(ValueError, match="level"):
            run.alert("t", "x", level="LOUD")
        with pytest.raises(ValueError, match="title"):
            run.alert("", "x")
        with pytest.raises(ValueError, match="wait_duration"):
            run.alert("t", "x", wait_duration=-1)


def test_offline_alerts_are_sent_once_by_sync(client_env: Path, live_server: LiveServer,
                                              api: Any) -> None:
    name = project()
    with tracklet.init(name, mode="offline", dir=client_env) as run:
        run.log({"v": 1})
        run.alert("a", "first", wait_duration=0)
        run.alert("a", "second", level="WARN", wait_duration=0)
    assert run.dir is not None and not is_synced(run.dir)
    creds = Credentials(live_server.url, live_server.key)
    assert sync_run(run.dir, creds).ok and is_synced(run.dir)
    expected = [("a", "first", "INFO", 0), ("a", "second", "WARN", 0)]
    assert _alerts(live_server, name, run.id) == expected
    # A second sync sends nothing again (wait_duration=0: the server would keep a repeat).
    assert sync_run(run.dir, creds).ok
    assert _alerts(live_server, name, run.id) == expected
    assert api.run(f"{ENTITY}/{name}/{run.id}").state == "finished"
