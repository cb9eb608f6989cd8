"""Nothing lost, nothing doubled.

* A file_stream request replayed byte for byte (the SDK's retry after a lost response) is
  stored once; rewrites at an earlier offset replace lines instead of adding them.
* While another connection holds the SQLite write lock, writes are answered 503 with
  Retry-After (never a 200 that drops data); after the lock is released the same request
  succeeds, and an SDK run that lived through the outage ends with every row stored.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.e2e.conftest import LiveServer, SdkEnv, sdk_environment, start_server
from tests.e2e.storage_view import run_path, stored_run, user_keys

UPSERT = """mutation U($name: String, $project: String) {
  upsertBucket(input: {name: $name, modelName: $project}) {
    bucket { id name historyLineCount project { name entity { name } } }
    inserted
  }
}"""


def _client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=("api", server.key), timeout=60)


def _create_run(client: httpx.Client, project: str, name: str) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": UPSERT,
                                      "variables": {"name": name, "project": project}})
    assert r.status_code == 200, r.text
    bucket: dict[str, Any] = r.json()["data"]["upsertBucket"]["bucket"]
    return bucket


def _row(step: int, **values: Any) -> str:
    return orjson.dumps({"_step": step, "_runtime": step * 0.5, "_timestamp": 1e9 + step,
                         **values}).decode()


def test_replayed_file_stream_is_stored_once(live_server: LiveServer) -> None:
    with _client(live_server) as client:
        _create_run(client, "durable", "replay01")
        url = "/files/admin/durable/replay01/file_stream"
        first = {
            "files": {
                "wandb-history.jsonl": {"offset": 0, "content": [_row(i, v=i) for i in range(3)]},
                "wandb-events.jsonl": {"offset": 0, "content": ['{"system.cpu": 1.5}']},
                "wandb-summary.json": {"offset": 0, "content": ['{"v": 2, "_step": 2}']},
                "output.log": {"offset": 0, "content": ["2026-01-01T00:00:00.000001 a",
                                                        "2026-01-01T00:00:00.000002 b 10%"]},
            }
        }
        body = orjson.dumps(first)
        for _ in range(2):  # the retry resends the identical bytes
            r = client.post(url, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 200 and r.json().get("stopped") is None
        # The progress line is rewritten in place, then new history arrives and is retried.
        rewrite = {"files": {"output.log": {"offset": 1, "content": [
            "2026-01-01T00:00:01.000001 b 100%", "2026-01-01T00:00:02.000001 c"]}}}
        more = {"files": {"wandb-history.jsonl": {"offset": 3,
                                                  "content": [_row(3, v=3), _row(7, v=7)]}}}
        for payload in (rewrite, rewrite, more, more):
            assert client.post(url, json=payload).status_code == 200
        before = stored_run(live_server, "admin", "durable", "replay01")
        time.sleep(0.05)
        assert client.post(url, json={}).status_code == 200  # heartbeat
        for _ in range(2):
            assert client.post(url, json={"complete": True, "exitcode": 0}).status_code == 200

    stored = stored_run(live_server, "admin", "durable", "replay01")
    assert [user_keys(r) for r in stored.history] == [{"v": v} for v in (0, 1, 2, 3, 7)]
    assert stored.history_steps == [0, 1, 2, 3, 7]
    assert (stored.run.history_line_count, stored.run.last_step) == (5, 7)
    assert stored.console == ["a", "b 100%", "c"]
    assert stored.run.log_line_count == 3
    assert stored.events == [{"system.cpu": 1.5}] and stored.run.events_line_count == 1
    assert stored.summary == {"v": 2, "_step": 2}
    assert stored.run.heartbeat_at > before.run.heartbeat_at
    assert (stored.run.state, stored.run.exit_code) == ("finished", 0)


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that gives up on a locked database after one second."""
    server = start_server(tmp_path_factory.mktemp("busy-server"),
                          env={"TRACKLET_DB_BUSY_TIMEOUT_S": "1"})
    yield server
    server.stop()


class WriteLock:
    """Holds SQLite's write lock from a separate connection, as another process would."""

    def __init__(self, db_path: Path) -> None:
        self.conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)

    def __enter__(self) -> WriteLock:
        self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


def test_locked_database_answers_503_then_succeeds(busy_server: LiveServer) -> None:
    db_path = busy_server.data_dir / "tracklet.db"
    body = {"files": {"wandb-history.jsonl": {"offset": 0, "content": [_row(0, v=1)]}}}
    url = "/files/admin/busy/locked01/file_stream"
    with _client(busy_server) as client:
        _create_run(client, "busy", "locked01")
        with WriteLock(db_path):
            r = client.post(url, json=body)
            assert r.status_code == 503
            assert int(r.headers["retry-after"]) >= 1
            assert "busy" in r.json()["errors"][0]["message"]
            g = client.post("/graphql", json={"query": UPSERT,
                                              "variables": {"name": "locked02", "project": "busy"}})
            assert g.status_code == 503 and "retry-after" in g.headers
            # Reads still work under the write lock (WAL).
            assert client.post("/graphql", json={"query": "{ viewer { username } }"}).json() == {
                "data": {"viewer": {"username": "admin"}}}
        stored = stored_run(busy_server, "admin", "busy", "locked01")
        assert stored.history == [], "a 503 stored nothing"
        r = client.post(url, json=body)
        assert r.status_code == 200
        assert client.post("/graphql", json={"query": UPSERT, "variables": {
            "name": "locked02", "project": "busy"}}).json()["data"]["upsertBucket"]["inserted"]
    stored = stored_run(busy_server, "admin", "busy", "locked01")
    assert [user_keys(r) for r in stored.history] == [{"v": 1}]


def test_sdk_run_survives_a_locked_database(busy_server: LiveServer, tmp_path: Path) -> None:
    sdk = SdkEnv(busy_server, tmp_path, sdk_environment(busy_server, tmp_path))
    db_path = busy_server.data_dir / "tracklet.db"
    outage = threading.Event()

    def hold_lock() -> None:
        time.sleep(4)  # the run is created and logging by now
        with WriteLock(db_path):
            outage.set()
            time.sleep(6)

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        proc = sdk.run(
            """
            import time, wandb
            run = wandb.init(project="busy-sdk", config={"a": 1},
                             settings=wandb.Settings(x_file_stream_transmit_interval=1))
            for i in range(300):
                run.log({"i": i, "sq": i * i})
                time.sleep(0.04)
            run.config.update({"b": 2})
            print("some output")
            run.finish()
            print("RUN", run.entity, run.project, run.id)
            """,
            timeout=300,
        )
    finally:
        holder.join()
    assert outage.is_set()
    assert "answered 503" in busy_server.log(), "the SDK really met the outage"
    stored = stored_run(busy_server, *run_path(proc))
    assert [user_keys(r) for r in stored.history] == [{"i": i, "sq": i * i} for i in range(300)]
    assert stored.history_steps == list(range(300))
    assert stored.config == {"a": 1, "b": 2}
    assert stored.console == ["some output"]
    assert (stored.run.state, stored.run.exit_code) == ("finished", 0)
    assert stored.summary["i"] == 299


def test_gzip_file_stream_body_is_decoded(live_server: LiveServer) -> None:
    import gzip

    with _client(live_server) as client:
        features = client.post("/graphql", json={
            "query": "{ serverInfo { features { name isEnabled } } }"}).json()
        assert {"name": "FILESTREAM_GZIP", "isEnabled": True} in (
            features["data"]["serverInfo"]["features"])
        _create_run(client, "durable", "gzip0001")
        rows = [_row(i, text="z" * 50) for i in range(200)]
        body = gzip.compress(orjson.dumps(
            {"files": {"wandb-history.jsonl": {"offset": 0, "content": rows}}}))
        for _ in range(2):
            r = client.post("/files/admin/durable/gzip0001/file_stream", content=body,
                            headers={"content-encoding": "gzip",
                                     "content-type": "application/json"})
            assert r.status_code == 200, r.text
    stored = stored_run(live_server, "admin", "durable", "gzip0001")
    assert stored.history_raw == rows
