"""Write runs through the server's wire protocol directly (UpsertBucket + file_stream).

Tests that need many runs quickly use this instead of spawning an SDK process per run. It
sends what the SDK sends (PROTOCOL §2.1), so the server cannot tell the difference; tests
still mix in runs written by the real SDK.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import httpx

UPSERT = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $groupName: String,
    $displayName: String, $notes: String, $config: JSONString, $jobType: String,
    $tags: [String!], $summaryMetrics: JSONString) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
      groupName: $groupName, displayName: $displayName, notes: $notes, config: $config,
      jobType: $jobType, tags: $tags, summaryMetrics: $summaryMetrics}) {
    bucket { id name project { name entity { name } } }
    inserted
  }
}
"""


def sdk_json(value: Any) -> str:
    """JSON text the way the SDK writes it (NaN and Infinity as bare tokens)."""
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


class HttpWriter:
    """A minimal protocol client for one server and API key."""

    def __init__(self, url: str, key: str, client: Any = None) -> None:
        self.url = url
        # An in-process app's client (tests.support.app) or a new one for a server's URL.
        self.client = client or httpx.Client(base_url=url, auth=("api", key), timeout=60)

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST a GraphQL document; returns the whole response body. A 429 (the per-user
        concurrency limit) is retried after its Retry-After, as the wandb SDK does."""
        for _attempt in range(30):
            response = self.client.post("/graphql",
                                        json={"query": query, "variables": variables})
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def create_run(self, entity: str, project: str, name: str, *,
                   config: dict[str, Any] | None = None, tags: list[str] | None = None,
                   group: str | None = None, job_type: str | None = None,
                   display_name: str | None = None, notes: str | None = None) -> str:
        """Upsert a run; returns its GraphQL id."""
        wrapped = {k: {"value": v} for k, v in (config or {}).items()}
        body = self.graphql(UPSERT, {
            "name": name, "project": project, "entity": entity, "groupName": group,
            "displayName": display_name, "notes": notes, "jobType": job_type,
            "config": sdk_json(wrapped), "tags": tags or [],
        })
        assert "errors" not in body, body
        return str(body["data"]["upsertBucket"]["bucket"]["id"])

    def stream(self, entity: str, project: str, name: str, files: dict[str, Any],
               **extra: Any) -> None:
        """One file_stream request."""
        response = self.client.post(f"/files/{entity}/{project}/{name}/file_stream",
                                    json={"files": files, **extra})
        response.raise_for_status()

    def log(self, entity: str, project: str, name: str, rows: list[dict[str, Any]],
            offset: int = 0, summary: dict[str, Any] | None = None,
            finish: bool = False, exit_code: int = 0,
            batch: int = 2000) -> list[dict[str, Any]]:
        """Send history rows at line ``offset`` (each gets ``_step`` = its line index,
        ``_runtime`` and ``_timestamp`` unless given), a summary (default: the last value of
        every key), and optionally the completion. Returns the rows exactly as sent."""
        last: dict[str, Any] = {}
        sent: list[dict[str, Any]] = []
        for i in range(0, len(rows), batch):
            lines = []
            for j, row in enumerate(rows[i:i + batch]):
                step = offset + i + j
                full = {"_step": step, "_runtime": step * 0.1, "_timestamp": 1.7e9 + step,
                        **row}
                last.update(full)
                sent.append(full)
                lines.append(sdk_json(full))
            self.stream(entity, project, name, {
                "wandb-history.jsonl": {"offset": offset + i, "content": lines}})
        final = summary if summary is not None else last
        self.stream(entity, project, name,
                    {"wandb-summary.json": {"offset": 0, "content": [sdk_json(final)]}},
                    **({"complete": True, "exitcode": exit_code} if finish else {}))
        return sent

    def finish(self, entity: str, project: str, name: str, exit_code: int = 0) -> None:
        """The final file_stream request of a run."""
        self.stream(entity, project, name, {}, complete=True, exitcode=exit_code)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()


def same_value(a: Any, b: Any) -> bool:
    """Equal as logged values: NaN equals NaN, 1 equals 1.0, containers element-wise."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)
