"""Reading a project from another W&B server (W&B's cloud, W&B Server, another tracklet)
through the public ``wandb.Api()``, into an export folder (:mod:`tracklet.storage.transfer`)
that ``import_folder`` then loads: the same path, idempotence and checks as any import.

What comes over: runs (config, summary, tags, notes, group, job type, state, timestamps,
metadata, their user's name), the full history (``scan_history``), system metrics, the
console log (``output.log``), every run file, and the artifact versions the runs logged with
their files, manifests, aliases and lineage (which runs used them). Runs already in the
target project are not fetched again.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from tracklet.domain.media import guess_type
from tracklet.storage.history.export.writer import write_export
from tracklet.storage.history.rows import Row
from tracklet.storage.metadata.tables import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_memberships,
    artifact_outputs,
    artifact_types,
    artifact_usages,
    artifacts,
    run_files,
)
from tracklet.storage.transfer import layout
from tracklet.storage.transfer.export import table_schema, write_parquet

_RUN_PATH = ("run_entity", "run_project", "run_name")


@dataclass
class FetchReport:
    """What was read from the source."""

    runs: int = 0
    runs_skipped: int = 0
    history_rows: int = 0
    files: int = 0
    artifacts: int = 0


def fetch_project(api: Any, entity: str, project: str, root: Path,
                  skip: Collection[str] = (),
                  progress: layout.Progress = layout.no_progress) -> FetchReport:
    """Write ``entity/project`` of the server ``api`` reads from into the export folder
    ``root``, leaving out the run ids in ``skip``."""
    report = FetchReport()
    root.mkdir(parents=True, exist_ok=True)
    source = api.client.app_url if hasattr(api, "client") else "wandb"
    layout.write_json(root / layout.MANIFEST, {
        "format": layout.FORMAT, "version": layout.VERSION,
        "export_id": "wandb:" + hashlib.sha256(f"{source}|{entity}/{project}".encode())
        .hexdigest()[:32],
        "exported_at": time.time(), "projects": [{"entity": entity, "project": project}]})
    layout.write_json(layout.project_dir(root, entity, project) / "project.json", {
        "entity": entity, "is_team": False, "project": project, "description": None,
        "created_at": time.time(), "updated_at": time.time()})
    runs = list(api.runs(f"{entity}/{project}", per_page=200))
    logged: dict[str, Any] = {}
    used: dict[str, list[str]] = {}
    for i, run in enumerate(runs):
        progress(f"{entity}/{project} runs", i, len(runs))
        if run.id in skip:
            report.runs_skipped += 1
        else:
            _fetch_run(run, root, entity, project, report)
        for art in run.logged_artifacts():
            logged.setdefault(art.id, art)
        for art in run.used_artifacts():
            used.setdefault(art.id, []).append(run.id)
            logged.setdefault(art.id, art)
    progress(f"{entity}/{project} runs", len(runs), len(runs))
    _fetch_artifacts(list(logged.values()), used, root, entity, project, report)
    return report


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if not value:
        return time.time()
    text = str(value).replace("Z", "+00:00")
    stamp = datetime.datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.UTC)
    return stamp.timestamp()


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"), default=str)


def _fetch_run(run: Any, root: Path, entity: str, project: str, report: FetchReport) -> None:
    folder = layout.run_dir(root, entity, project, run.id)
    folder.mkdir(parents=True, exist_ok=True)
    rows = [dict(r) for r in run.scan_history(page_size=1000)]
    rows.sort(key=lambda r: int(r.get("_step", 0)))
    summary = write_export(lambda: (Row(int(r.get("_step", i)), data=r)
                                    for i, r in enumerate(rows)),
                           folder / "history.parquet")
    layout.write_json(folder / "history.keys.json",
                      {k: v.to_json() for k, v in summary.keys.items()})
    report.history_rows += summary.rows
    system = run.history(stream="events", samples=1_000_000, pandas=False)
    write_parquet(folder / "events.parquet",
                 [{"line": i, "data": _dumps(r)} for i, r in enumerate(system)],
                 {"line": pa.int64(), "data": pa.string()})
    files, console = _fetch_files(run, root)
    write_parquet(folder / "console.parquet",
                 [{"line": i, "text": t} for i, t in enumerate(console)],
                 {"line": pa.int64(), "text": pa.string()})
    write_parquet(folder / "files.parquet", files, table_schema(run_files, skip={"run_id"}))
    report.files += len(files)
    created = _epoch(run.created_at)
    heartbeat = _epoch(getattr(run, "heartbeat_at", None) or run.created_at)
    user = getattr(run, "user", None)
    doc = {
        "name": run.id, "display_name": run.name, "state": run.state,
        "config": _dumps({k: {"value": v} for k, v in run.config.items()}),
        "summary": _dumps(dict(run.summary_metrics or {})),
        "system_metrics": _dumps(dict(getattr(run, "system_metrics", None) or {})),
        "metadata": _dumps(run.metadata) if getattr(run, "metadata", None) else None,
        "tags": _dumps(list(run.tags or [])), "notes": run.notes,
        "description": None, "group_name": run.group, "job_type": run.job_type,
        "sweep_name": getattr(getattr(run, "sweep", None), "id", None),
        "host": None, "program": None, "repo": None, "commit_hash": None, "exit_code": None,
        "created_at": created, "updated_at": heartbeat, "heartbeat_at": heartbeat,
        "history_line_count": len(rows), "events_line_count": len(system),
        "log_line_count": len(console),
        "last_step": int(rows[-1].get("_step", len(rows) - 1)) if rows else None,
        "stop_requested": False, "revision": 0,
        "user": getattr(user, "username", None) if user is not None else None,
    }
    layout.write_json(folder / layout.RUN_DONE, doc)
    report.runs += 1


def _store(root: Path, path: Path) -> tuple[str, str, int]:
    """Copy a downloaded file into the folder's blobs; (blob key, base64 MD5, size)."""
    md5 = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            md5.update(chunk)
    hex_digest = md5.hexdigest()
    key = f"cas/{hex_digest[:2]}/{hex_digest[2:4]}/{hex_digest}"
    target = layout.blob_path(root, key)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return key, base64.b64encode(md5.digest()).decode(), path.stat().st_size


def _fetch_files(run: Any, root: Path) -> tuple[list[dict[str, Any]], list[str]]:
    files: list[dict[str, Any]] = []
    console: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for f in run.files():
            local = Path(tmp) / f.name
            f.download(root=tmp, replace=True).close()
            key, md5, size = _store(root, local)
            now = time.time()
            files.append({"name": f.name, "blob_key": key, "md5": md5, "size": size,
                          "mimetype": guess_type(f.name), "created_at": now,
                          "updated_at": _epoch(getattr(f, "updated_at", None) or now),
                          "uploaded": True})
            if f.name == "output.log":
                console = local.read_text(errors="replace").splitlines(keepends=True)
            os.unlink(local)
    return files, console


def _fetch_artifacts(versions: list[Any], used: dict[str, list[str]], root: Path,
                     entity: str, project: str, report: FetchReport) -> None:
    """The artifact tables (ids made up here; the import maps them) and their blobs."""
    folder = layout.project_dir(root, entity, project) / "artifacts"
    now = time.time()
    tables: dict[str, list[dict[str, Any]]] = {t: [] for t in layout.ARTIFACT_TABLES}
    types: dict[str, int] = {}
    collections: dict[str, int] = {}
    next_version: dict[str, int] = {}
    ids: Callable[[str], int] = lambda table: len(tables[table]) + 1  # noqa: E731
    mine = [v for v in versions if v.entity == entity and v.project == project]
    for v in sorted(mine, key=lambda a: (a.source_name.split(":")[0], a.version)):
        coll_name = v.source_name.split(":")[0]
        if v.type not in types:
            types[v.type] = ids("artifact_types")
            tables["artifact_types"].append({"id": types[v.type], "name": v.type,
                                             "description": None, "created_at": now})
        if coll_name not in collections:
            collections[coll_name] = ids("artifact_collections")
            tables["artifact_collections"].append({
                "id": collections[coll_name], "type_id": types[v.type], "name": coll_name,
                "kind": "SEQUENCE", "description": None, "next_version": 0,
                "created_at": now, "updated_at": now})
        index = int(str(v.version).lstrip("v"))
        next_version[coll_name] = max(next_version.get(coll_name, 0), index + 1)
        with tempfile.TemporaryDirectory() as tmp:
            manifest_doc = v.manifest.to_manifest_json()
            manifest_path = Path(tmp) / "wandb_manifest.json"
            manifest_path.write_text(json.dumps(manifest_doc))
            manifest_key, _md5, _size = _store(root, manifest_path)
            downloaded = Path(v.download(root=str(Path(tmp) / "files")))
            art_id = ids("artifacts")
            for path, entry in sorted(v.manifest.entries.items()):
                key = None
                if entry.ref is None:
                    key, _, _ = _store(root, downloaded / path)
                tables["artifact_files"].append({
                    "artifact_id": art_id, "path": path, "digest": entry.digest,
                    "size": entry.size or 0, "blob_key": key, "ref": entry.ref,
                    "birth_artifact_id": None,
                    "extra": _dumps(entry.extra) if entry.extra else None})
        creator = v.logged_by()
        created = _epoch(getattr(v, "created_at", None))
        tables["artifacts"].append({
            "id": art_id, "sequence_id": collections[coll_name], "type_id": types[v.type],
            "version_index": index, "digest": v.digest, "digest_algorithm": "MANIFEST_MD5",
            "state": "COMMITTED", "description": v.description,
            "metadata": _dumps(v.metadata) if v.metadata else None,
            "tags": _dumps(list(getattr(v, "tags", []) or [])), "pending_aliases": "[]",
            "size": int(v.size or 0), "file_count": len(v.manifest.entries),
            "history_step": None, "ttl_seconds": None, "ttl_inherited": True,
            "manifest_blob_key": manifest_key, "created_at": created,
            "updated_at": created, "committed_at": created, "manifest_type": "FULL",
            "base_artifact_id": None,
            **dict(zip(_RUN_PATH, (entity, project, creator.id) if creator is not None
                       else (None, None, None), strict=True))})
        tables["artifact_memberships"].append({
            "collection_id": collections[coll_name], "artifact_id": art_id,
            "version_index": index, "created_at": created})
        for alias in v.aliases:
            tables["artifact_aliases"].append({
                "id": ids("artifact_aliases"), "collection_id": collections[coll_name],
                "artifact_id": art_id, "alias": alias, "created_at": created})
        for run_id in used.get(v.id, []):
            tables["artifact_usages"].append({"artifact_id": art_id, "used_as": None,
                                              "created_at": now, "run_entity": entity,
                                              "run_project": project, "run_name": run_id})
        report.artifacts += 1
    for row in tables["artifact_collections"]:
        row["next_version"] = next_version.get(row["name"], 0)
    schemas = {"artifact_types": artifact_types, "artifact_collections": artifact_collections,
               "artifacts": artifacts, "artifact_memberships": artifact_memberships,
               "artifact_aliases": artifact_aliases, "artifact_files": artifact_files,
               "artifact_usages": artifact_usages, "artifact_outputs": artifact_outputs}
    for name in layout.ARTIFACT_TABLES:
        schema = table_schema(schemas[name])
        if name in ("artifacts", "artifact_usages", "artifact_outputs"):
            schema.update({c: pa.string() for c in _RUN_PATH})
        write_parquet(folder / f"{name}.parquet", tables[name], schema)
    (folder / layout.ARTIFACTS_DONE).write_text(f"{len(mine)} versions\n")
