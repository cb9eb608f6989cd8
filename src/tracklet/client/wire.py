"""The client's side of the W&B wire protocol: GraphQL and file_stream over plain HTTP.

The same operations the wandb SDK sends (``UpsertBucket`` to create or update a run,
``file_stream`` posts of history, summary and completion), so a tracklet server keeps one
ingestion path and runs read back through ``wandb.Api()`` like the SDK's own.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

#: Statuses the SDK does not retry either: the request itself is wrong and will stay wrong.
FATAL_STATUSES = frozenset({400, 401, 403, 404, 409, 410, 413, 422, 501})

UPSERT_BUCKET = """
mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String,
    $groupName: String, $description: String, $displayName: String, $notes: String,
    $config: JSONString, $jobType: String, $tags: [String!], $state: String) {
  upsertBucket(input: {id: $id, name: $name, groupName: $groupName, modelName: $project,
      entityName: $entity, description: $description, displayName: $displayName,
      notes: $notes, config: $config, jobType: $jobType, tags: $tags, state: $state}) {
    bucket { id name displayName historyLineCount project { name entity { name } } }
    inserted
  }
}
"""

RUN_STATUS = """
query TrackletRunStatus($project: String, $entity: String, $name: String!) {
  model(name: $project, entityName: $entity) {
    bucket(name: $name, missingOk: true) {
      id name state historyLineCount logLineCount summaryMetrics
    }
  }
}
"""

CREATE_RUN_FILES = """
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
      files: $files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}
"""

NOTIFY_ALERT = """
mutation NotifyScriptableRunAlert($entity: String!, $project: String!, $run: String!,
    $title: String!, $text: String!, $severity: AlertSeverity, $waitDuration: Duration) {
  notifyScriptableRunAlert(input: {entityName: $entity, projectName: $project,
      runName: $run, title: $title, text: $text, severity: $severity,
      waitDuration: $waitDuration}) { success }
}
"""

RUN_FIELDS = "name displayName state group tags config summaryMetrics"

LIST_RUNS = """
query TrackletRuns($entity: String, $project: String, $filters: JSONString, $after: String) {
  project(name: $project, entityName: $entity) {
    runs(filters: $filters, first: 500, after: $after, order: "+created_at") {
      edges { node { RUN_FIELDS } }
      pageInfo { endCursor hasNextPage }
    }
  }
}
""".replace("RUN_FIELDS", RUN_FIELDS)

GET_RUN = """
query TrackletRun($entity: String, $project: String, $name: String!) {
  model(name: $project, entityName: $entity) { bucket(name: $name, missingOk: true) { RUN_FIELDS } }
}
""".replace("RUN_FIELDS", RUN_FIELDS)

VIEWER = "query Viewer { viewer { id entity username } }"


class WireError(Exception):
    """A request that failed. ``retryable`` says whether sending it again may succeed."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class RunAddress:
    """Where the server put a run: the names used in every later URL."""

    storage_id: str
    entity: str
    project: str
    name: str
    display_name: str | None
    history_line_count: int


class Connection:
    """HTTP to one server with one API key (Basic ``api:KEY``, as the SDK sends it)."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = "Basic " + base64.b64encode(f"api:{api_key}".encode()).decode()
        self.timeout = timeout

    def _post(self, path: str, body: Any) -> Any:
        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(
            self.base_url + path, data=data, method="POST",
            headers={"Authorization": self._auth, "Content-Type": "application/json",
                     "User-Agent": "tracklet-client"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read()[:500].decode("utf-8", "replace")
            retry_after = exc.headers.get("Retry-After") if exc.headers else None
            raise WireError(f"{path}: HTTP {exc.code}: {detail}",
                            retryable=exc.code not in FATAL_STATUSES, status=exc.code,
                            retry_after=_seconds(retry_after)) from None
        except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
            # A server going away mid-response raises HTTPException (IncompleteRead...).
            raise WireError(f"{path}: {exc!r}", retryable=True) from None
        try:
            return json.loads(raw) if raw else {}
        except ValueError:
            return {}

    def graphql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of a GraphQL request; a GraphQL error is final (not retried)."""
        answer = self._post("/graphql", {"query": query, "variables": variables})
        if answer.get("errors"):
            message = "; ".join(str(e.get("message")) for e in answer["errors"])
            raise WireError(f"GraphQL: {message}", retryable=False)
        data = answer.get("data")
        if not isinstance(data, dict):
            raise WireError("GraphQL: the server answered no data", retryable=False)
        return data

    def viewer(self) -> dict[str, Any] | None:
        """The key's user (``id``, ``entity``, ``username``), None when the key is refused."""
        try:
            viewer = self.graphql(VIEWER, {}).get("viewer")
        except WireError as exc:
            if exc.status == 401:
                return None
            raise
        return viewer if isinstance(viewer, dict) else None

    def upsert_run(self, variables: dict[str, Any]) -> RunAddress:
        """Create or update a run (null variables leave fields unchanged)."""
        data = self.graphql(UPSERT_BUCKET, variables)
        bucket = data["upsertBucket"]["bucket"]
        return RunAddress(storage_id=bucket["id"], entity=bucket["project"]["entity"]["name"],
                          project=bucket["project"]["name"], name=bucket["name"],
                          display_name=bucket.get("displayName"),
                          history_line_count=int(bucket.get("historyLineCount") or 0))

    def run_status(self, entity: str | None, project: str, name: str) -> dict[str, Any] | None:
        """The stored run's ``state``, ``historyLineCount`` and ``summaryMetrics``, or None."""
        data = self.graphql(RUN_STATUS, {"entity": entity, "project": project, "name": name})
        model = data.get("model")
        bucket = model.get("bucket") if isinstance(model, dict) else None
        return bucket if isinstance(bucket, dict) else None

    def create_run_files(self, address: RunAddress,
                         names: list[str]) -> tuple[list[str | None], list[str]]:
        """Upload URLs for run files ``names`` (None: the server has that file already)
        and the ``Name:Value`` headers every upload must carry."""
        data = self.graphql(CREATE_RUN_FILES, {"entity": address.entity,
                                               "project": address.project,
                                               "run": address.name, "files": names})
        payload = data["createRunFiles"]
        urls = {f["name"]: f.get("uploadUrl") for f in payload.get("files") or []}
        return [urls.get(n) for n in names], list(payload.get("uploadHeaders") or [])

    def notify_alert(self, address: RunAddress, alert: dict[str, Any]) -> None:
        """Raise ``alert`` (``title``, ``text``, ``severity``, ``wait_ms``) on the run; the
        server drops one whose title it saw less than ``wait_ms`` ago."""
        self.graphql(NOTIFY_ALERT, {"entity": address.entity, "project": address.project,
                                    "run": address.name, "title": alert["title"],
                                    "text": alert["text"], "severity": alert["severity"],
                                    "waitDuration": alert["wait_ms"]})

    def put(self, url: str, data: bytes, headers: list[str]) -> None:
        """PUT ``data`` to a (signed) upload URL; no credentials go with it, as with the SDK."""
        if url.startswith("/"):
            url = self.base_url + url
        extra = dict(h.split(":", 1) for h in headers if ":" in h)
        request = urllib.request.Request(url, data=data, method="PUT", headers={
            **{k.strip(): v.strip() for k, v in extra.items()},
            "User-Agent": "tracklet-client"})
        try:
            with urllib.request.urlopen(request, timeout=max(self.timeout, 300)) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            raise WireError(f"upload: HTTP {exc.code}", status=exc.code,
                            retryable=exc.code not in FATAL_STATUSES) from None
        except (OSError, urllib.error.URLError, http.client.HTTPException) as exc:
            raise WireError(f"upload: {exc!r}", retryable=True) from None

    def list_runs(self, entity: str | None, project: str,
                  filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Every run of ``entity/project`` matching ``filters`` (the Public API's run
        filters), oldest first; empty when the project does not exist."""
        runs: list[dict[str, Any]] = []
        after = None
        while True:
            data = self.graphql(LIST_RUNS, {"entity": entity, "project": project,
                                            "filters": json.dumps(filters), "after": after})
            connection = (data.get("project") or {}).get("runs")
            if not connection:
                return runs
            runs.extend(edge["node"] for edge in connection["edges"])
            page = connection.get("pageInfo") or {}
            if not page.get("hasNextPage"):
                return runs
            after = page.get("endCursor")

    def get_run(self, entity: str | None, project: str, name: str) -> dict[str, Any] | None:
        """The run ``entity/project/name`` (fields as :meth:`list_runs`), or None."""
        data = self.graphql(GET_RUN, {"entity": entity, "project": project, "name": name})
        model = data.get("model")
        bucket = model.get("bucket") if isinstance(model, dict) else None
        return bucket if isinstance(bucket, dict) else None

    def file_stream(self, address: RunAddress, body: dict[str, Any]) -> dict[str, Any]:
        """One file_stream post for the run at ``address``."""
        parts = (address.entity, address.project, address.name)
        path = "/files/" + "/".join(quote(p, safe="") for p in parts) + "/file_stream"
        answer = self._post(path, body)
        return answer if isinstance(answer, dict) else {}


def _seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
