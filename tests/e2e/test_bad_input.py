"""Bad input gets a clear 4xx with a message, never a 500, and leaves stored data unchanged.

Each case is sent as raw HTTP next to a run holding real data; the whole database is dumped
before and after and must be identical.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import select

from tests.e2e.conftest import LiveServer, start_server
from tests.e2e.storage_view import opened
from tracklet.storage.metadata.tables import metadata

UPSERT = """mutation U($name: String, $project: String, $id: String, $tags: [String!],
                      $config: JSONString, $state: String) {
  upsertBucket(input: {name: $name, modelName: $project, id: $id, tags: $tags,
                       config: $config, state: $state}) {
    bucket { id name }
  }
}"""
CREATE_FILES = """mutation C($run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: "admin", projectName: "bad", runName: $run,
                         files: $files}) { runID files { name uploadUrl } }
}"""
STREAM = "/files/admin/bad/good0001/file_stream"


def _dump(server: LiveServer) -> dict[str, list[Any]]:
    """Every row of every table (server_settings aside: the signing secret is lazily made)."""
    with opened(server) as storage, storage.db.read() as conn:
        return {
            name: [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key))]
            for name, table in metadata.tables.items()
            if name != "server_settings"
        }


@pytest.fixture(scope="module")
def seeded(live_server: LiveServer) -> LiveServer:
    """A run with history, console and a file, so there is data to harm."""
    with httpx.Client(base_url=live_server.url, auth=("api", live_server.key)) as c:
        r = c.post("/graphql", json={"query": UPSERT, "variables": {
            "name": "good0001", "project": "bad", "tags": ["keep"],
            "config": '{"lr": {"value": 1}}'}})
        assert r.status_code == 200, r.text
        row = orjson.dumps({"_step": 0, "loss": 0.5}).decode()
        assert c.post(STREAM, json={"files": {
            "wandb-history.jsonl": {"offset": 0, "content": [row]},
            "output.log": {"offset": 0, "content": ["2026-01-01T00:00:00.1 hello"]},
            "wandb-summary.json": {"offset": 0, "content": ['{"loss": 0.5}']},
        }}).status_code == 200
        files = c.post("/graphql", json={"query": CREATE_FILES, "variables": {
            "run": "good0001", "files": ["kept.txt"]}}).json()["data"]["createRunFiles"]
        assert httpx.put(files["files"][0]["uploadUrl"], content=b"kept").status_code == 200
    return live_server


JSON_TYPE = {"Content-Type": "application/json"}


def _case_requests(key: str) -> list[tuple[str, dict[str, Any], int, str]]:
    """(name, httpx request kwargs, expected status, text the message must contain)."""
    auth = ("api", key)
    gql = "/graphql"

    def q(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"method": "POST", "url": gql, "auth": auth,
                "json": {"query": query, "variables": variables}}

    return [
        ("malformed JSON to graphql", {"method": "POST", "url": gql, "auth": auth,
                                       "headers": JSON_TYPE, "content": b'{"query": '},
         400, "not valid JSON"),
        ("empty body", {"method": "POST", "url": gql, "auth": auth, "headers": JSON_TYPE,
                        "content": b""}, 400, "empty"),
        ("JSON without its content type", {"method": "POST", "url": gql, "auth": auth,
                                           "content": b'{"query": "{ viewer { id } }"}'},
         415, "Content-Type: application/json"),
        ("JSON array body", {"method": "POST", "url": gql, "auth": auth, "json": [1]},
         400, "JSON object"),
        ("malformed GraphQL", q("mutation { upsertBucket(input: {name: "), 400, "Syntax Error"),
        ("unknown field", q("{ viewer { password } }"), 400, "Cannot query field"),
        ("query not a string", {"method": "POST", "url": gql, "auth": auth,
                                "json": {"query": 5}}, 400, "query"),
        ("tags of the wrong type", q(UPSERT, {"name": "good0001", "project": "bad",
                                              "tags": 5}), 400, "String"),
        ("name of the wrong type", q(UPSERT, {"name": {"a": 1}, "project": "bad"}),
         400, "String"),
        ("config not an object", q(UPSERT, {"name": "good0001", "project": "bad",
                                            "config": "[1, 2]"}), 400, "config"),
        ("config not JSON", q(UPSERT, {"name": "good0001", "project": "bad",
                                       "config": "{nope"}), 400, "config"),
        ("unknown state", q(UPSERT, {"name": "good0001", "project": "bad",
                                     "state": "exploded"}), 400, "state"),
        ("bad run id", q(UPSERT, {"id": "not-an-id"}), 400, "invalid Run id"),
        ("unknown run id", q(UPSERT, {"id": "UnVuOjk5OTk5OQ=="}), 404, "not found"),
        ("bad project name", q(UPSERT, {"name": "x", "project": "a/b"}), 400, "project name"),
        ("files for an unknown run", q(CREATE_FILES, {"run": "nosuchrun", "files": ["a.txt"]}),
         404, "not found"),
        ("../ in a file name", q(CREATE_FILES, {"run": "good0001", "files": ["../escape.txt"]}),
         400, "invalid file name"),
        ("nested ../", q(CREATE_FILES, {"run": "good0001", "files": ["a/../../b.txt"]}),
         400, "invalid file name"),
        ("absolute file name", q(CREATE_FILES, {"run": "good0001", "files": ["/etc/passwd"]}),
         400, "invalid file name"),
        ("backslash file name", q(CREATE_FILES, {"run": "good0001", "files": ["..\\\\x"]}),
         400, "invalid file name"),
        ("file_stream for an unknown run", {"method": "POST", "auth": auth, "json": {},
                                            "url": "/files/admin/bad/nosuchrun/file_stream"},
         404, "not found"),
        ("file_stream malformed JSON", {"method": "POST", "url": STREAM, "auth": auth,
                                        "content": b"{"}, 400, "not valid JSON"),
        ("history line not JSON", {"method": "POST", "url": STREAM, "auth": auth, "json": {
            "files": {"wandb-history.jsonl": {"offset": 0, "content": ["{oops"]}}}},
         400, "not a JSON object"),
        ("history _step not an integer", {"method": "POST", "url": STREAM, "auth": auth, "json": {
            "files": {"wandb-history.jsonl": {"offset": 0, "content": ['{"_step": "x"}']}}}},
         400, "_step"),
        ("negative offset", {"method": "POST", "url": STREAM, "auth": auth, "json": {
            "files": {"output.log": {"offset": -1, "content": ["x"]}}}}, 400, "offset"),
        ("content not a list", {"method": "POST", "url": STREAM, "auth": auth, "json": {
            "files": {"output.log": {"offset": 0, "content": "x"}}}}, 400, "content"),
        ("exit code a string", {"method": "POST", "url": STREAM, "auth": auth, "json": {
            "complete": True, "exitcode": "0"}}, 400, "exitcode"),
        ("summary not an object", {"method": "POST", "url": STREAM, "auth": auth, "json": {
            "files": {"wandb-summary.json": {"offset": 0, "content": ["[]"]}}}},
         400, "not a JSON object"),
        ("gzip that is not gzip", {"method": "POST", "url": STREAM, "auth": auth,
                                   "content": b"plain", "headers": {"content-encoding": "gzip"}},
         400, "gzip"),
        ("missing key on graphql", {"method": "POST", "url": gql,
                                    "json": {"query": "{ viewer { id } }"}}, 401, "API key"),
        ("wrong key on graphql", {"method": "POST", "url": gql, "auth": ("api", "x" * 40),
                                  "json": {"query": "{ viewer { id } }"}}, 401, "API key"),
        ("missing key on file_stream", {"method": "POST", "url": STREAM, "json": {}},
         401, "API key"),
        ("wrong key on file_stream", {"method": "POST", "url": STREAM, "json": {},
                                      "auth": ("api", "y" * 40)}, 401, "API key"),
        ("forged upload URL", {"method": "PUT", "url": "/storage/upload/kept.txt?t=abc.def",
                               "content": b"evil"}, 403, "signature"),
        ("upload URL without token", {"method": "PUT", "url": "/storage/upload/kept.txt",
                                      "content": b"evil"}, 403, "signature"),
    ]


CASES = _case_requests("KEY")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_request_is_a_clear_4xx_and_harmless(
    seeded: LiveServer, case: tuple[str, dict[str, Any], int, str]
) -> None:
    name, request, status, text = case
    if request.get("auth") and request["auth"][1] == "KEY":
        request = {**request, "auth": ("api", seeded.key)}
    before = _dump(seeded)
    with httpx.Client(base_url=seeded.url, timeout=60) as client:
        r = client.request(**request)
    assert r.status_code == status, f"{name}: {r.status_code} {r.text}"
    body = r.json()
    messages = " ".join(e["message"] for e in body["errors"])
    assert text in messages, f"{name}: {messages!r}"
    assert _dump(seeded) == before, f"{name} changed stored data"


@pytest.fixture(scope="module")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server that accepts request bodies of at most 4 KiB."""
    server = start_server(tmp_path_factory.mktemp("small-body"),
                          env={"TRACKLET_MAX_BODY_BYTES": "4096"})
    yield server
    server.stop()


def test_body_over_the_limit_is_413(small_server: LiveServer) -> None:
    with httpx.Client(base_url=small_server.url, auth=("api", small_server.key),
                      timeout=60) as c:
        r = c.post("/graphql", json={"query": UPSERT, "variables": {
            "name": "small001", "project": "small"}})
        assert r.status_code == 200
        before = _dump(small_server)
        big_row = orjson.dumps({"_step": 0, "blob": "x" * 20_000}).decode()
        stream = "/files/admin/small/small001/file_stream"
        cases = [
            ("graphql", c.post("/graphql", json={"query": UPSERT, "variables": {
                "name": "small002", "project": "small", "tags": ["t" * 100] * 100}})),
            ("file_stream", c.post(stream, json={"files": {"wandb-history.jsonl": {
                "offset": 0, "content": [big_row]}}})),
            ("gzip bomb", c.post(stream, content=gzip.compress(orjson.dumps(
                {"files": {"output.log": {"offset": 0, "content": ["z" * 200_000]}}})),
                headers={"content-encoding": "gzip", "content-type": "application/json"})),
            ("chunked", c.post(stream, content=iter([b'{"files": {}, "pad": "', b"p" * 8000,
                                                     b'"}']))),
        ]
        for name, r in cases:
            assert r.status_code == 413, f"{name}: {r.status_code} {r.text}"
            assert "larger than the limit of 4096 bytes" in r.json()["errors"][0]["message"]
        assert _dump(small_server) == before
        # Under the limit everything still works.
        ok = c.post(stream, json={"files": {"wandb-history.jsonl": {
            "offset": 0, "content": ['{"_step": 0, "v": 1}']}}})
        assert ok.status_code == 200
