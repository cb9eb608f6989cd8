"""The wandb wire protocol at the HTTP level: GraphQL documents and file_stream, no SDK.

The GraphQL documents are the ones the wandb 0.31.0 SDK sends (as captured from it);
requests use the SDK's Basic auth
(``api:<key>``) and retry 429/5xx honouring Retry-After, as the SDK does, so a retried
request counts as one delivery and its extra latency is visible.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

UPSERT_BUCKET = """mutation UpsertBucket ($id: String, $name: String, $project: String, \
$entity: String, $groupName: String, $description: String, $displayName: String, \
$notes: String, $commit: String, $config: JSONString, $host: String, $debug: Boolean, \
$program: String, $repo: String, $jobType: String, $state: String, $sweep: String, \
$tags: [String!], $summaryMetrics: JSONString) {
	upsertBucket(input: {id:$id,name:$name,groupName:$groupName,modelName:$project,\
entityName:$entity,description:$description,displayName:$displayName,notes:$notes,\
config:$config,commit:$commit,host:$host,debug:$debug,jobProgram:$program,jobRepo:$repo,\
jobType:$jobType,state:$state,sweep:$sweep,tags:$tags,summaryMetrics:$summaryMetrics}) {
		bucket {
			id
			name
			displayName
			description
			config
			sweepName
			project {
				id
				name
				entity {
					id
					name
				}
			}
			historyLineCount
		}
		inserted
	}
}"""

HISTORY_PAGE = """query HistoryPage ($entity: String!, $project: String!, $run: String!, \
$minStep: Int64!, $maxStep: Int64!, $pageSize: Int!) {
	project(name: $project, entityName: $entity) {
		run(name: $run) {
			history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize)
		}
	}
}"""

SAMPLED_HISTORY_PAGE = """query SampledHistoryPage ($entity: String!, $project: String!, \
$run: String!, $spec: JSONString!) {
	project(name: $project, entityName: $entity) {
		run(name: $run) {
			sampledHistory(specs: [$spec])
		}
	}
}"""

RUNS = """query Runs($project: String!, $entity: String!, $cursor: String, $perPage: Int = 50, \
$order: String, $filters: JSONString) {
    project(name: $project, entityName: $entity) {
        internalId
        runCount(filters: $filters)
        readOnly
        runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
            edges {
                node {
                    projectId
                    ...LightweightRunFragment
                }
                cursor
            }
            pageInfo {
                endCursor
                hasNextPage
            }
        }
    }
}
fragment LightweightRunFragment on Run {
    id
    tags
    name
    displayName
    sweepName
    state
    group
    jobType
    commit
    readOnly
    createdAt
    heartbeatAt
    description
    notes
    historyLineCount
    user {
        name
        username
    }
}"""

RUN_SUMMARY = """query RunSummary($project: String!, $entity: String!, $name: String!) {
    project(name: $project, entityName: $entity) {
        run(name: $name) { name summaryMetrics }
    }
}"""

RETRY_STATUSES = {408, 409, 429, 500, 502, 503, 504}


class GraphQLError(Exception):
    """The server answered a GraphQL request with errors (or no data)."""


class Rejected(Exception):
    """The server answered a request with a non-retryable HTTP error."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:300]}")
        self.status = status


@dataclass
class Stats:
    """What a client saw: per-request latencies (s), attempts and non-2xx answers."""

    latencies: list[float] = field(default_factory=list)
    attempts: int = 0
    retried: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Wire:
    """An async wandb-protocol client for one server."""

    def __init__(self, url: str, key: str, connections: int = 64, timeout: float = 120,
                 stats: Stats | None = None) -> None:
        self.client = httpx.AsyncClient(
            base_url=url,
            auth=("api", key),
            timeout=timeout,
            verify=False,  # plain HTTP on loopback; skips loading CA certs per client
            limits=httpx.Limits(max_connections=connections,
                                max_keepalive_connections=connections),
            headers={"User-Agent": "wandb-core", "Content-Type": "application/json"},
        )
        self.stats = stats or Stats()

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()

    async def post(self, path: str, body: bytes, max_tries: int = 20) -> httpx.Response:
        """POST with the SDK's retry policy; records the latency of the whole delivery."""
        start = time.perf_counter()
        for attempt in range(max_tries):
            self.stats.attempts += 1
            try:
                resp = await self.client.post(path, content=body)
            except httpx.TransportError:
                if attempt == max_tries - 1:
                    raise
                self.stats.retried += 1
                await asyncio.sleep(min(2**attempt * 0.1, 5))
                continue
            if resp.status_code < 300:
                self.stats.latencies.append(time.perf_counter() - start)
                return resp
            self.stats.statuses[resp.status_code] = self.stats.statuses.get(
                resp.status_code, 0) + 1
            if resp.status_code not in RETRY_STATUSES or attempt == max_tries - 1:
                raise Rejected(resp.status_code, resp.text)
            self.stats.retried += 1
            retry_after = resp.headers.get("retry-after")
            delay = float(retry_after) if retry_after else min(2**attempt * 0.1, 5)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one GraphQL document; GraphQLError when the answer carries errors."""
        body = orjson.dumps({"query": query, "variables": variables})
        try:
            resp = await self.post("/graphql", body, max_tries=5)
        except Rejected as exc:
            raise GraphQLError(str(exc)) from exc
        doc = orjson.loads(resp.content)
        errors = doc.get("errors")
        if errors or doc.get("data") is None:
            first = errors[0] if isinstance(errors, list) and errors else errors
            message = first.get("message") if isinstance(first, dict) else first
            raise GraphQLError(str(message)[:300])
        data: dict[str, Any] = doc["data"]
        return data

    async def upsert_run(self, project: str, name: str, *, entity: str | None = None,
                         config: dict[str, Any] | None = None,
                         summary: dict[str, Any] | None = None) -> dict[str, Any]:
        """Create (or update) a run with the SDK's UpsertBucket document."""
        variables: dict[str, Any] = {
            "id": None, "name": name, "project": project, "entity": entity,
            "groupName": None, "description": None, "displayName": None, "notes": None,
            "commit": None, "host": "bench", "debug": None, "program": "bench.py",
            "repo": None, "jobType": None, "state": None, "sweep": None, "tags": None,
            "config": orjson.dumps(config or {"lr": {"value": 0.001}}).decode(),
            "summaryMetrics": orjson.dumps(summary).decode() if summary is not None else None,
        }
        data = await self.graphql(UPSERT_BUCKET, variables)
        bucket: dict[str, Any] = data["upsertBucket"]["bucket"]
        return bucket

    async def file_stream(self, entity: str, project: str, run: str,
                          payload: dict[str, Any] | bytes) -> None:
        """POST one file_stream request (retried like the SDK until it is stored)."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        await self.post(f"/files/{entity}/{project}/{run}/file_stream", body)


def history_payload(offset: int, lines: list[str]) -> dict[str, Any]:
    """A file_stream body carrying ``lines`` of wandb-history.jsonl at ``offset``."""
    return {"files": {"wandb-history.jsonl": {"offset": offset, "content": lines}}}


def finish_payload(exit_code: int = 0) -> dict[str, Any]:
    """The last file_stream request of a run, as the SDK sends it at finish."""
    return {"complete": True, "exitcode": exit_code, "files": {}}


class StreamWire:
    """One run's file_stream sender on one keep-alive HTTP/1.1 connection, written by hand.

    The load workloads measure the server; on a 2-core machine httpx's per-request Python
    (pool, headers, auth, response objects) took a third of the cores the server needs.
    This client writes a pre-built request head and reads the status line, headers and a
    Content-Length body, nothing more, with the same retry policy and Stats as :class:`Wire`.
    """

    def __init__(self, url: str, key: str, stats: Stats | None = None,
                 timeout: float = 120) -> None:
        parsed = httpx.URL(url)
        self.host = parsed.host
        self.port = parsed.port or 80
        self.timeout = timeout
        token = base64.b64encode(f"api:{key}".encode()).decode()
        self._head = (f"Host: {self.host}:{self.port}\r\nAuthorization: Basic {token}\r\n"
                      "User-Agent: wandb-core\r\nContent-Type: application/json\r\n").encode()
        self.stats = stats or Stats()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        """Close the connection."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def _exchange(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\n" + self._head
                     + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        data = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, headers, data

    async def file_stream(self, entity: str, project: str, run: str,
                          payload: dict[str, Any] | bytes, max_tries: int = 20) -> None:
        """POST one file_stream request, retried like the SDK until it is stored."""
        body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        path = f"/files/{entity}/{project}/{run}/file_stream"
        start = time.perf_counter()
        for attempt in range(max_tries):
            self.stats.attempts += 1
            try:
                status, headers, data = await asyncio.wait_for(self._exchange(path, body),
                                                               self.timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError):
                await self.close()
                if attempt == max_tries - 1:
                    raise
                self.stats.retried += 1
                await asyncio.sleep(min(2**attempt * 0.1, 5))
                continue
            if status < 300:
                self.stats.latencies.append(time.perf_counter() - start)
                return
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            if status not in RETRY_STATUSES or attempt == max_tries - 1:
                raise Rejected(status, data.decode(errors="replace"))
            self.stats.retried += 1
            retry_after = headers.get("retry-after")
            await asyncio.sleep(float(retry_after) if retry_after else min(2**attempt * 0.1, 5))
        raise AssertionError("unreachable")
