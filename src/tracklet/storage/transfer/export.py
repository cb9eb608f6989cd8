"""Writing projects into an export folder (:mod:`.layout`).

Resumable and idempotent: a run whose ``run.json`` already records the run's current
revision is skipped, a blob already copied (same size) is not copied again, and every file
is written under a temporary name and renamed, so an interrupted export leaves complete
files only and the next one continues where it stopped.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Table, select

from tracklet.errors import NotFound
from tracklet.storage.facade import Storage
from tracklet.storage.history.export.writer import write_export
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata.tables import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_memberships,
    artifact_outputs,
    artifact_types,
    artifact_usages,
    artifacts,
    console,
    entities,
    events,
    projects,
    run_files,
    runs,
    users,
)
from tracklet.storage.transfer import layout

#: Run columns an export leaves out: ids of this deployment, and derived copies.
_RUN_SKIP = frozenset({"id", "project_id", "user_id", "config_strict", "summary_strict"})

@dataclass
class ExportReport:
    """What an export wrote (and skipped as already exported)."""

    projects: int = 0
    runs: int = 0
    runs_skipped: int = 0
    history_rows: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    artifacts: int = 0
    paths: list[str] = field(default_factory=list)


def export_projects(storage: Storage, root: Path, selectors: Sequence[str] = (),
                    progress: layout.Progress = layout.no_progress) -> ExportReport:
    """Export the projects named ``entity/project`` in ``selectors`` (every project when
    empty; ``entity`` alone exports all of that entity's) into ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / layout.MANIFEST
    manifest: dict[str, Any] = (layout.read_json(manifest_path) if manifest_path.exists()
                                else {"format": layout.FORMAT, "version": layout.VERSION,
                                      "export_id": uuid.uuid4().hex, "projects": []})
    report = ExportReport()
    with storage.db.read() as conn:
        chosen = _select_projects(conn, selectors)
    known = {(p["entity"], p["project"]) for p in manifest["projects"]}
    for entity, project, _pid in chosen:
        if (entity, project) not in known:
            manifest["projects"].append({"entity": entity, "project": project})
    for entity, project, project_id in chosen:
        _export_project(storage, root, entity, project, project_id, report, progress)
        report.projects += 1
    manifest["exported_at"] = time.time()
    layout.write_json(manifest_path, manifest)
    return report


def _select_projects(conn: Connection, selectors: Sequence[str]) -> list[tuple[str, str, int]]:
    rows = conn.execute(select(entities.c.name, projects.c.name, projects.c.id)
                        .join(entities, entities.c.id == projects.c.entity_id)
                        .order_by(entities.c.name, projects.c.name)).all()
    every = [(str(e), str(p), int(i)) for e, p, i in rows]
    if not selectors:
        return every
    chosen: list[tuple[str, str, int]] = []
    for selector in selectors:
        entity, _, project = selector.partition("/")
        found = [t for t in every if t[0] == entity and (not project or t[1] == project)]
        if not found:
            raise NotFound(f"no project {selector!r} to export")
        chosen.extend(t for t in found if t not in chosen)
    return chosen


def _export_project(storage: Storage, root: Path, entity: str, project: str, project_id: int,
                    report: ExportReport, progress: layout.Progress) -> None:
    where = layout.project_dir(root, entity, project)
    with storage.db.read() as conn:
        info = conn.execute(select(entities.c.is_team, projects.c.description,
                                   projects.c.created_at, projects.c.updated_at)
                            .join(entities, entities.c.id == projects.c.entity_id)
                            .where(projects.c.id == project_id)).one()
        run_rows = [dict(r._mapping) for r in conn.execute(
            select(runs, users.c.username).outerjoin(users, users.c.id == runs.c.user_id)
            .where(runs.c.project_id == project_id).order_by(runs.c.id))]
    layout.write_json(where / "project.json", {
        "entity": entity, "is_team": bool(info.is_team), "project": project,
        "description": info.description, "created_at": info.created_at,
        "updated_at": info.updated_at})
    label = f"{entity}/{project} runs"
    for i, run in enumerate(run_rows):
        progress(label, i, len(run_rows))
        _export_run(storage, root, entity, project, run, report)
    progress(label, len(run_rows), len(run_rows))
    _export_artifacts(storage, root, entity, project, project_id, report)


def _export_run(storage: Storage, root: Path, entity: str, project: str, run: dict[str, Any],
                report: ExportReport) -> None:
    folder = layout.run_dir(root, entity, project, run["name"])
    done = folder / layout.RUN_DONE
    if done.exists() and layout.read_json(done).get("revision") == run["revision"]:
        report.runs_skipped += 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    run_id = int(run["id"])
    history = folder / "history.parquet"
    tmp = history.with_name("history.parquet.tmp")
    keys = folder / "history.keys.json"
    with open_history(storage, run_id) as view:
        if len(view.exports) == 1 and not view.has_live:
            # A compacted run: its one export part is the file this layout wants (the
            # same writer made it), so its bytes and statistics are copied as they are.
            part = view.exports[0]
            with tmp.open("wb") as out:
                for chunk in storage.blobs.open(part.blob_key):
                    out.write(chunk)
            os.replace(tmp, history)
            keys_tmp = keys.with_name(keys.name + ".tmp")
            keys_tmp.write_text(part.key_stats or "{}")
            os.replace(keys_tmp, keys)
            report.history_rows += part.row_count
        else:
            summary = write_export(lambda: view.rows(), tmp)
            os.replace(tmp, history)
            report.history_rows += summary.rows
            # Which steps held an int or an explicit null in a column of another type:
            # without them a reader would give 1.0 for 1 and drop the nulls (see
            # export/key_stats.py).
            layout.write_json(keys, {k: v.to_json() for k, v in summary.keys.items()})
    with storage.db.read() as conn:
        write_parquet(folder / "events.parquet", _rows(conn, select(
            events.c.line, events.c.data).where(events.c.run_id == run_id)
            .order_by(events.c.line)), {"line": pa.int64(), "data": pa.string()})
        write_parquet(folder / "console.parquet", _rows(conn, select(
            console.c.line, console.c.text).where(console.c.run_id == run_id)
            .order_by(console.c.line)), {"line": pa.int64(), "text": pa.string()})
        files = _rows(conn, select(*[c for c in run_files.c if c.name != "run_id"])
                      .where(run_files.c.run_id == run_id).order_by(run_files.c.name))
    write_parquet(folder / "files.parquet", files, table_schema(run_files, skip={"run_id"}))
    for f in files:
        if f["blob_key"]:
            _copy_blob(storage, root, f["blob_key"], report)
    doc = {k: v for k, v in run.items() if k not in _RUN_SKIP}
    doc["user"] = doc.pop("username")
    layout.write_json(done, doc)
    report.runs += 1
    report.paths.append(f"{entity}/{project}/{run['name']}")


def _export_artifacts(storage: Storage, root: Path, entity: str, project: str,
                      project_id: int, report: ExportReport) -> None:
    where = layout.project_dir(root, entity, project) / "artifacts"
    with storage.db.read() as conn:
        run_paths = _run_paths(conn)
        types = _rows(conn, select(artifact_types).where(
            artifact_types.c.project_id == project_id))
        collections = _rows(conn, select(artifact_collections).where(
            artifact_collections.c.project_id == project_id))
        collection_ids = [c["id"] for c in collections]
        versions = _rows(conn, select(artifacts).where(
            artifacts.c.sequence_id.in_(collection_ids)).order_by(artifacts.c.id))
        version_ids = [v["id"] for v in versions]
        members = _rows(conn, select(artifact_memberships).where(
            artifact_memberships.c.collection_id.in_(collection_ids),
            artifact_memberships.c.artifact_id.in_(version_ids)))
        aliases = _rows(conn, select(artifact_aliases).where(
            artifact_aliases.c.collection_id.in_(collection_ids),
            artifact_aliases.c.artifact_id.in_(version_ids)))
        files = _rows(conn, select(artifact_files).where(
            artifact_files.c.artifact_id.in_(version_ids)).order_by(
            artifact_files.c.artifact_id, artifact_files.c.path))
        usages = _rows(conn, select(artifact_usages).where(
            artifact_usages.c.artifact_id.in_(version_ids)))
        outputs = _rows(conn, select(artifact_outputs).where(
            artifact_outputs.c.artifact_id.in_(version_ids)))
    for v in versions:
        _name_run(v, "created_by_run_id", run_paths)
    for row in (*usages, *outputs):
        _name_run(row, "run_id", run_paths)
    tables: dict[str, tuple[list[dict[str, Any]], Table]] = {
        "artifact_types": (types, artifact_types),
        "artifact_collections": (collections, artifact_collections),
        "artifacts": (versions, artifacts),
        "artifact_memberships": (members, artifact_memberships),
        "artifact_aliases": (aliases, artifact_aliases),
        "artifact_files": (files, artifact_files),
        "artifact_usages": (usages, artifact_usages),
        "artifact_outputs": (outputs, artifact_outputs),
    }
    for name in layout.ARTIFACT_TABLES:
        rows, table = tables[name]
        schema = table_schema(table)
        if name in ("artifacts", "artifact_usages", "artifact_outputs"):
            schema.update({"run_entity": pa.string(), "run_project": pa.string(),
                           "run_name": pa.string()})
        write_parquet(where / f"{name}.parquet", rows, schema)
    for key in [v["manifest_blob_key"] for v in versions] + [f["blob_key"] for f in files]:
        if key:
            _copy_blob(storage, root, key, report)
    report.artifacts += len(versions)
    (where / layout.ARTIFACTS_DONE).write_text(f"{len(versions)} versions\n")


def _run_paths(conn: Connection) -> dict[int, tuple[str, str, str]]:
    rows = conn.execute(select(runs.c.id, entities.c.name, projects.c.name, runs.c.name)
                        .join(projects, projects.c.id == runs.c.project_id)
                        .join(entities, entities.c.id == projects.c.entity_id))
    return {int(i): (str(e), str(p), str(r)) for i, e, p, r in rows}


def _name_run(row: dict[str, Any], column: str, paths: dict[int, tuple[str, str, str]]) -> None:
    """Replace a run's id by its path (entity, project, run id), which survives a move."""
    path = paths.get(row[column]) if row[column] is not None else None
    row["run_entity"], row["run_project"], row["run_name"] = path or (None, None, None)


def _rows(conn: Connection, query: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(query)]


_ARROW = {"INTEGER": pa.int64(), "BIGINTEGER": pa.int64(), "FLOAT": pa.float64(),
          "BOOLEAN": pa.bool_(), "TEXT": pa.string(), "VARCHAR": pa.string(),
          "BLOB": pa.binary()}


def table_schema(table: Table, skip: Iterable[str] = ()) -> dict[str, pa.DataType]:
    """An Arrow type per column of ``table`` (so an empty or all-null column keeps its type)."""
    out: dict[str, pa.DataType] = {}
    for column in table.c:
        if column.name in skip:
            continue
        kind = type(column.type).__name__.upper()
        kind = {"STRING": "VARCHAR", "LARGEBINARY": "BLOB"}.get(kind, kind)
        out[column.name] = _ARROW[kind]
    return out


def write_parquet(path: Path, rows: list[dict[str, Any]], schema: dict[str, pa.DataType]) -> None:
    """Write ``rows`` (dicts; missing keys are nulls) as a Parquet file of ``schema``,
    atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(
        [{k: r.get(k) for k in schema} for r in rows],
        schema=pa.schema(list(schema.items())))
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def _copy_blob(storage: Storage, root: Path, key: str, report: ExportReport) -> None:
    target = layout.blob_path(root, key)
    size = storage.blobs.size(key)
    if target.exists() and target.stat().st_size == size:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("wb") as out:
        for chunk in storage.blobs.open(key):
            out.write(chunk)
    os.replace(tmp, target)
    report.blobs += 1
    report.blob_bytes += size
