"""Reading an MLflow tracking server through its REST API (no mlflow package needed) into an
export folder (:mod:`tracklet.storage.transfer`) that ``import_folder`` then loads.

An experiment becomes a project of the same name; each run keeps its MLflow run id as its
run id. Params become the config (MLflow keeps them as strings), every metric's full
history (``metrics/get-history``) becomes history rows by step (one row per step holding
every metric logged at it; ``_timestamp`` and ``_runtime`` from MLflow's timestamps), the
latest values the summary, user tags ``key=value`` tags (``mlflow.note.content`` the
notes), the status the state, and the run's artifacts its files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tracklet.domain.media import guess_type
from tracklet.errors import InvalidInput, NotFound
from tracklet.storage.history.export.writer import write_export
from tracklet.storage.history.rows import Row
from tracklet.storage.metadata.tables import run_files
from tracklet.storage.transfer import layout
from tracklet.storage.transfer.export import table_schema, write_parquet

_STATES = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed",
           "RUNNING": "running", "SCHEDULED": "running"}
_PAGE = 1000


@dataclass
class MlflowReport:
    """What was read from MLflow."""

    runs: int = 0
    runs_skipped: int = 0
    history_rows: int = 0
    metric_points: int = 0
    files: int = 0


class MlflowClient:
    """The few REST calls an import needs, over urllib."""

    def __init__(self, tracking_uri: str, timeout: float = 60) -> None:
        if not tracking_uri.startswith(("http://", "https://")):
            raise InvalidInput("import-mlflow reads an MLflow tracking server: give its "
                               "http(s):// URL (`mlflow server` serves a file or database "
                               "store)")
        self.base = tracking_uri.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, query: dict[str, Any] | None = None,
              body: dict[str, Any] | None = None) -> Any:
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            if exc.code == 404:
                raise NotFound(f"MLflow {path}: {detail}") from exc
            raise InvalidInput(f"MLflow {path} answered {exc.code}: {detail}") from exc
        except urllib.error.URLError as exc:
            raise InvalidInput(f"cannot reach MLflow at {self.base}: {exc.reason}") from exc

    def experiments(self, name: str | None) -> list[dict[str, Any]]:
        """The experiment called ``name``, or every active one."""
        if name is not None:
            found = self._call("GET", "/api/2.0/mlflow/experiments/get-by-name",
                               {"experiment_name": name})
            return [found["experiment"]]
        out: list[dict[str, Any]] = []
        token = None
        while True:
            body: dict[str, Any] = {"max_results": _PAGE}
            if token:
                body["page_token"] = token
            page = self._call("POST", "/api/2.0/mlflow/experiments/search", body=body)
            out += page.get("experiments", [])
            token = page.get("next_page_token")
            if not token:
                return out

    def runs(self, experiment_id: str) -> Iterator[dict[str, Any]]:
        """Every run of the experiment."""
        token = None
        while True:
            body: dict[str, Any] = {"experiment_ids": [experiment_id], "max_results": _PAGE}
            if token:
                body["page_token"] = token
            page = self._call("POST", "/api/2.0/mlflow/runs/search", body=body)
            yield from page.get("runs", [])
            token = page.get("next_page_token")
            if not token:
                return

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        """Every value logged under ``key``."""
        out: list[dict[str, Any]] = []
        token = None
        while True:
            query: dict[str, Any] = {"run_id": run_id, "metric_key": key,
                                     "max_results": 25_000}
            if token:
                query["page_token"] = token
            page = self._call("GET", "/api/2.0/mlflow/metrics/get-history", query)
            out += page.get("metrics", [])
            token = page.get("next_page_token")
            if not token:
                return out

    def artifacts(self, run_id: str, path: str = "") -> Iterator[dict[str, Any]]:
        """Every artifact file of the run (folders walked)."""
        query = {"run_id": run_id}
        if path:
            query["path"] = path
        for f in self._call("GET", "/api/2.0/mlflow/artifacts/list", query).get("files", []):
            if f.get("is_dir"):
                yield from self.artifacts(run_id, f["path"])
            else:
                yield f

    def download(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact file."""
        url = f"{self.base}/get-artifact?" + urllib.parse.urlencode(
            {"path": path, "run_uuid": run_id})
        with urllib.request.urlopen(url, timeout=self.timeout) as resp:
            data: bytes = resp.read()
        return data


def project_name(experiment: str) -> str:
    """A tracklet project name for an MLflow experiment name."""
    name = re.sub(r"[^A-Za-z0-9_.\-]+", "-", experiment).strip("-")
    return name or "mlflow"


def fetch_experiment(client: MlflowClient, experiment: dict[str, Any], entity: str,
                     root: Path, skip: Collection[str] = (),
                     progress: layout.Progress = layout.no_progress) -> MlflowReport:
    """Write one experiment's runs into the export folder ``root`` as ``entity/<name>``."""
    report = MlflowReport()
    project = project_name(experiment["name"])
    manifest_path = root / layout.MANIFEST
    manifest: dict[str, Any] = layout.read_json(manifest_path) if manifest_path.exists() else {
        "format": layout.FORMAT, "version": layout.VERSION,
        "export_id": "mlflow:" + hashlib.sha256(client.base.encode()).hexdigest()[:32],
        "projects": []}
    if {"entity": entity, "project": project} not in manifest["projects"]:
        manifest["projects"].append({"entity": entity, "project": project})
    manifest["exported_at"] = time.time()
    layout.write_json(manifest_path, manifest)
    created = float(experiment.get("creation_time") or time.time() * 1000) / 1000
    layout.write_json(layout.project_dir(root, entity, project) / "project.json", {
        "entity": entity, "is_team": False, "project": project,
        "description": _tags(experiment).get("mlflow.note.content"),
        "created_at": created, "updated_at": created})
    runs = [r for r in client.runs(str(experiment["experiment_id"]))
            if r["info"].get("lifecycle_stage", "active") == "active"]
    for i, run in enumerate(runs):
        progress(f"{entity}/{project} runs", i, len(runs))
        if run["info"]["run_id"] in skip:
            report.runs_skipped += 1
            continue
        _fetch_run(client, run, root, entity, project, report)
    progress(f"{entity}/{project} runs", len(runs), len(runs))
    return report


def _tags(obj: dict[str, Any]) -> dict[str, str]:
    raw = obj.get("tags") or []
    return {t["key"]: t.get("value", "") for t in raw} if isinstance(raw, list) else dict(raw)


def _fetch_run(client: MlflowClient, run: dict[str, Any], root: Path, entity: str,
               project: str, report: MlflowReport) -> None:
    info, data = run["info"], run.get("data", {})
    run_id = info["run_id"]
    folder = layout.run_dir(root, entity, project, run_id)
    folder.mkdir(parents=True, exist_ok=True)
    start_ms = int(info.get("start_time") or 0)
    steps: dict[int, dict[str, Any]] = {}
    for key in sorted({m["key"] for m in data.get("metrics", [])}):
        points = client.metric_history(run_id, key)
        report.metric_points += len(points)
        for p in sorted(points, key=lambda p: (int(p.get("step", 0)), int(p["timestamp"]))):
            row = steps.setdefault(int(p.get("step", 0)), {})
            row[key] = float(p["value"])
            stamp = int(p["timestamp"])
            row["_timestamp"] = max(row.get("_timestamp", 0.0), stamp / 1000)
            row["_runtime"] = max(row.get("_runtime", 0.0), (stamp - start_ms) / 1000)
    rows = [{"_step": s, **steps[s]} for s in sorted(steps)]
    summary_rows = write_export(lambda: (Row(r["_step"], data=r) for r in rows),
                                folder / "history.parquet")
    layout.write_json(folder / "history.keys.json",
                      {k: v.to_json() for k, v in summary_rows.keys.items()})
    report.history_rows += len(rows)
    files = []
    for f in client.artifacts(run_id):
        blob = client.download(run_id, f["path"])
        md5 = hashlib.md5(blob)
        key = f"cas/{md5.hexdigest()[:2]}/{md5.hexdigest()[2:4]}/{md5.hexdigest()}"
        target = layout.blob_path(root, key)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(blob)
        files.append({"name": f["path"], "blob_key": key,
                      "md5": base64.b64encode(md5.digest()).decode(), "size": len(blob),
                      "mimetype": guess_type(f["path"]), "created_at": start_ms / 1000,
                      "updated_at": start_ms / 1000, "uploaded": True})
    report.files += len(files)
    write_parquet(folder / "files.parquet", files, table_schema(run_files, skip={"run_id"}))
    write_parquet(folder / "events.parquet", [], {"line": pa.int64(), "data": pa.string()})
    write_parquet(folder / "console.parquet", [], {"line": pa.int64(), "text": pa.string()})
    tags = _tags(data)
    latest = {m["key"]: float(m["value"]) for m in data.get("metrics", [])}
    if rows:
        latest.update({"_step": rows[-1]["_step"], "_timestamp": rows[-1]["_timestamp"],
                       "_runtime": rows[-1]["_runtime"]})
    end_ms = int(info.get("end_time") or start_ms)
    params = {p["key"]: {"value": p.get("value")} for p in data.get("params", [])}
    layout.write_json(folder / layout.RUN_DONE, {
        "name": run_id, "display_name": info.get("run_name") or tags.get("mlflow.runName"),
        "state": _STATES.get(str(info.get("status")), "finished"),
        "config": json.dumps(params), "summary": json.dumps(latest, allow_nan=True),
        "system_metrics": "{}", "metadata": None,
        "tags": json.dumps([f"{k}={v}"[:64] for k, v in sorted(tags.items())
                            if not k.startswith("mlflow.")]),
        "notes": tags.get("mlflow.note.content"), "description": None, "group_name": None,
        "job_type": None, "sweep_name": None, "host": None,
        "program": tags.get("mlflow.source.name"), "repo": None,
        "commit_hash": tags.get("mlflow.source.git.commit"), "exit_code": None,
        "created_at": start_ms / 1000, "updated_at": end_ms / 1000,
        "heartbeat_at": end_ms / 1000, "history_line_count": len(rows),
        "events_line_count": 0, "log_line_count": 0,
        "last_step": rows[-1]["_step"] if rows else None, "stop_requested": False,
        "revision": 0, "user": None,
    })
    report.runs += 1
