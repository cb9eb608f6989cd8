"""Runs written through the wire protocol to the app in process, on each history tier."""

from __future__ import annotations

import json
from typing import Any

from tests.support.app import InProcessApp
from tracklet.storage.history import compaction
from tracklet.storage.metadata import runs as run_repo

UPSERT = """mutation UpsertBucket($name: String, $project: String, $entity: String,
    $config: JSONString, $group: String, $tags: [String!]) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
                       config: $config, groupName: $group, tags: $tags}) {
    bucket { id } } }"""


def line(row: dict[str, Any]) -> str:
    """One history line as the SDK writes it (NaN/Infinity as bare words)."""
    return json.dumps(row)


class RunWriter:
    """One run of ``entity/project``, written as a user's client would."""

    def __init__(self, app: InProcessApp, entity: str, project: str, name: str,
                 config: dict[str, Any] | None = None, group: str | None = None,
                 tags: list[str] | None = None, key: str | None = None) -> None:
        self.app = app
        # Another user's key, or the admin's (the app client's own).
        self.auth: dict[str, Any] = {"auth": ("api", key)} if key else {}
        self.entity, self.project, self.name = entity, project, name
        self.offset = 0
        wrapped = {k: {"value": v, "desc": None} for k, v in (config or {}).items()}
        response = app.client.post("/graphql", json={"query": UPSERT, "variables": {
            "name": name, "project": project, "entity": entity,
            "config": json.dumps(wrapped), "group": group, "tags": tags or []}}, **self.auth)
        assert response.status_code == 200 and "errors" not in response.json(), response.text

    @property
    def path(self) -> str:
        """``entity/project/name``."""
        return f"{self.entity}/{self.project}/{self.name}"

    def log(self, rows: list[dict[str, Any]], **extra: Any) -> None:
        """Append history rows (one file_stream request)."""
        files = {"wandb-history.jsonl": {"offset": self.offset,
                                         "content": [line(r) for r in rows]}} if rows else {}
        response = self.app.client.post(
            f"/files/{self.entity}/{self.project}/{self.name}/file_stream",
            json={"files": files, **extra}, **self.auth)
        assert response.status_code == 200, response.text
        self.offset += len(rows)

    def system(self, rows: list[dict[str, Any]], offset: int = 0) -> None:
        """System-metric lines (``wandb-events.jsonl``)."""
        response = self.app.client.post(
            f"/files/{self.entity}/{self.project}/{self.name}/file_stream",
            json={"files": {"wandb-events.jsonl": {"offset": offset,
                                                   "content": [line(r) for r in rows]}}},
            **self.auth)
        assert response.status_code == 200, response.text

    def _id(self) -> int:
        with self.app.storage.db.read() as conn:
            return run_repo.get_run_by_path(conn, self.entity, self.project, self.name).id

    def checkpoint(self) -> None:
        """A checkpoint export of the running run's settled rows, forced now."""
        assert compaction.compact_now(self.app.storage, self._id(), checkpoint_rows=1)

    def finish(self, summary: dict[str, Any] | None = None) -> None:
        """End the run (with a summary) and compact its history."""
        files = {"wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]}} \
            if summary else {}
        response = self.app.client.post(
            f"/files/{self.entity}/{self.project}/{self.name}/file_stream",
            json={"files": files, "complete": True, "exitcode": 0}, **self.auth)
        assert response.status_code == 200, response.text
        assert compaction.compact_now(self.app.storage, self._id())
