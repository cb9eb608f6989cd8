"""Loading an export folder (:mod:`.layout`) into a deployment, any database and blob store.

Runs keep their run ids (``entity/project/<run id>`` paths stay valid); every other id is
the target's. Each run goes in with one transaction (its row, history, system metrics,
console and file records) after its blobs are in the blob store, and a project's artifacts
with another, marked done in ``server_settings``: an interrupted import leaves whole runs
only, and running it again adds what is missing and stores nothing twice.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import Connection, Table, func, select, update

from tracklet.domain.records import StreamChunk
from tracklet.errors import Conflict, InvalidInput
from tracklet.storage.facade import Storage
from tracklet.storage.history.export.format import STEP
from tracklet.storage.history.export.key_stats import KeyStats
from tracklet.storage.history.export.reader import ExportFile
from tracklet.storage.history.export.table import Export, add_export
from tracklet.storage.history.live.write import (
    write_console_rows,
    write_event_rows,
    write_history,
)
from tracklet.storage.history.rows import Row
from tracklet.storage.metadata import accounts, compaction_queue
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.strict_json import with_strict_shadows
from tracklet.storage.metadata.tables import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_memberships,
    artifact_outputs,
    artifact_types,
    artifact_usages,
    artifacts,
    projects,
    run_files,
    runs,
)
from tracklet.storage.transfer import layout

_RUN_COLUMNS = frozenset(c.name for c in runs.c) - {"id", "project_id", "user_id",
                                                   "config_strict", "summary_strict"}
_PATH_COLUMNS = ("run_entity", "run_project", "run_name")


@dataclass
class ImportReport:
    """What an import stored (and found already there)."""

    projects: int = 0
    runs: int = 0
    runs_skipped: int = 0
    history_rows: int = 0
    blobs: int = 0
    artifacts: int = 0
    artifact_projects_skipped: int = 0


def import_folder(storage: Storage, root: Path, progress: layout.Progress = layout.no_progress,
                  compact: bool = True) -> ImportReport:
    """Import every project of the export at ``root``. With ``compact``, an ended run's
    history file becomes its Parquet export part as it goes in; otherwise (and for running
    runs) its rows go to the live tier and a server's compactor exports ended runs later."""
    manifest_path = root / layout.MANIFEST
    if not manifest_path.exists():
        raise InvalidInput(f"{root} is not a tracklet export: no {layout.MANIFEST}")
    manifest = layout.read_json(manifest_path)
    if manifest.get("format") != layout.FORMAT or manifest.get("version") != layout.VERSION:
        raise InvalidInput(f"{manifest_path}: not a tracklet export of version "
                           f"{layout.VERSION}")
    report = ImportReport()
    for entry in manifest["projects"]:
        entity, project = entry["entity"], entry["project"]
        folder = layout.project_dir(root, entity, project)
        info = layout.read_json(folder / "project.json")
        with storage.db.write() as conn:
            ent = accounts.ensure_entity(conn, entity, is_team=bool(info["is_team"]))
            target = accounts.ensure_project(conn, ent, project)
            conn.execute(update(projects).where(projects.c.id == target.id,
                                                projects.c.description.is_(None))
                         .values(description=info["description"],
                                 created_at=info["created_at"]))
        run_folders = sorted(d for d in (folder / "runs").glob("*")
                             if (d / layout.RUN_DONE).exists())
        label = f"{entity}/{project} runs"
        for i, run_folder in enumerate(run_folders):
            progress(label, i, len(run_folders))
            _import_run(storage, root, target.id, run_folder, report, compact)
        progress(label, len(run_folders), len(run_folders))
        _import_artifacts(storage, root, manifest["export_id"], entity, project, target.id,
                          report)
        report.projects += 1
    return report


def _put_blob(storage: Storage, root: Path, key: str, report: ImportReport) -> None:
    if storage.blobs.exists(key):
        return
    with layout.blob_path(root, key).open("rb") as f:
        storage.blobs.put(key, f)
    report.blobs += 1


def _table(path: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def _import_run(storage: Storage, root: Path, project_id: int, folder: Path,
                report: ImportReport, compact: bool) -> None:
    doc = layout.read_json(folder / layout.RUN_DONE)
    with storage.db.read() as conn:
        if run_repo.find_run(conn, project_id, doc["name"]) is not None:
            report.runs_skipped += 1
            return
    files = _table(folder / "files.parquet")
    for f in files:
        if f["blob_key"]:
            _put_blob(storage, root, f["blob_key"], report)
    ended = doc["state"] in compaction_queue.ENDED_STATES
    history = folder / "history.parquet"
    keys_text = (folder / "history.keys.json").read_text()
    part: Export | None = None
    rows: list[Row] = []
    if compact and ended:
        # A finished run's history goes in as its export part, as compaction would leave
        # it: the file is already in that format (the same writer made it).
        part = _stage_export(storage, history, keys_text)
    else:
        stats = {k: KeyStats.from_json(v) for k, v in json.loads(keys_text).items()}
        reader = ExportFile(history, stats)
        try:
            rows = list(reader.rows())
        finally:
            reader.close()
    events = _table(folder / "events.parquet")
    console = _table(folder / "console.parquet")
    with storage.db.write() as conn:
        if run_repo.find_run(conn, project_id, doc["name"]) is not None:
            report.runs_skipped += 1
            return
        values = {k: v for k, v in doc.items() if k in _RUN_COLUMNS}
        run_id = run_repo.next_run_id(conn)
        if run_id is not None:
            values["id"] = run_id
        values["user_id"] = _user_id(conn, doc.get("user"))
        values["project_id"] = project_id
        run_id = int(conn.execute(runs.insert().values(**with_strict_shadows(values)))
                     .inserted_primary_key[0])  # type: ignore[index]
        if part is not None and part.row_count:
            add_export(conn, dataclasses.replace(part, run_id=run_id))
        if rows:
            write_history(conn, run_id, StreamChunk(0, tuple(r.text for r in rows)),
                          [r.step for r in rows])
        write_event_rows(conn, [(run_id, e["line"], e["data"]) for e in events])
        write_console_rows(conn, [(run_id, c["line"], c["text"]) for c in console])
        if files:
            conn.execute(run_files.insert(), [{**f, "run_id": run_id} for f in files])
        if ended and rows:
            compaction_queue.request_once(conn, run_id)
    report.runs += 1
    report.history_rows += len(rows) if part is None else part.row_count


def _stage_export(storage: Storage, path: Path, keys_text: str) -> Export | None:
    """Put a run's history file into the blob store as an export part (its run id is set
    when the run's row exists); None for an empty history."""
    meta = pq.ParquetFile(path).metadata
    if meta.num_rows == 0:
        return None
    steps = pq.read_table(path, columns=[STEP]).column(STEP)
    key = f"history/imported/{uuid.uuid4().hex}.parquet"
    with path.open("rb") as f:
        size = storage.blobs.put(key, f)
    return Export(run_id=0, part=0, blob_key=key, size_bytes=size, row_count=meta.num_rows,
                  min_step=int(pc.min(steps).as_py()), max_step=int(pc.max(steps).as_py()),
                  key_stats=keys_text, created_at=time.time())


def _user_id(conn: Connection, username: str | None) -> int | None:
    """The target's user of that name, created (without keys or password) when missing."""
    if not username:
        return None
    user = accounts.get_user_by_name(conn, username)
    if user is None:
        user = accounts.create_user(conn, username, admin=False)
    return user.id


def _import_artifacts(storage: Storage, root: Path, export_id: str, entity: str, project: str,
                      project_id: int, report: ImportReport) -> None:
    folder = layout.project_dir(root, entity, project) / "artifacts"
    if not (folder / layout.ARTIFACTS_DONE).exists():
        return
    marker = f"import:{export_id}:{entity}/{project}:artifacts"
    with storage.db.read() as conn:
        if accounts.get_setting(conn, marker) is not None:
            report.artifact_projects_skipped += 1
            return
    t = {name: _table(folder / f"{name}.parquet") for name in layout.ARTIFACT_TABLES}
    for v in t["artifacts"]:
        if v["manifest_blob_key"]:
            _put_blob(storage, root, v["manifest_blob_key"], report)
    for f in t["artifact_files"]:
        if f["blob_key"]:
            _put_blob(storage, root, f["blob_key"], report)
    with storage.db.write() as conn:
        if accounts.get_setting(conn, marker) is not None:
            report.artifact_projects_skipped += 1
            return
        type_ids = {r["id"]: _get_or_insert(conn, artifact_types, r, project_id=project_id)
                    for r in t["artifact_types"]}
        collection_ids: dict[int, int] = {}
        for r in t["artifact_collections"]:
            new = _get_or_insert(conn, artifact_collections, r, project_id=project_id,
                                 type_id=type_ids[r["type_id"]])
            taken = conn.execute(select(func.count()).select_from(artifact_memberships).where(
                artifact_memberships.c.collection_id == new)).scalar_one()
            if taken:
                raise Conflict(f"artifact collection {entity}/{project}/{r['name']} already "
                               "has versions here: import into a deployment without it")
            collection_ids[r["id"]] = new
        artifact_ids: dict[int, int] = {}
        for r in t["artifacts"]:
            artifact_ids[r["id"]] = _insert(
                conn, artifacts, r, sequence_id=collection_ids[r["sequence_id"]],
                type_id=type_ids[r["type_id"]], base_artifact_id=None,
                created_by_run_id=_run_id(conn, r))
        for r in t["artifacts"]:
            if r["base_artifact_id"] in artifact_ids:
                conn.execute(update(artifacts).where(artifacts.c.id == artifact_ids[r["id"]])
                             .values(base_artifact_id=artifact_ids[r["base_artifact_id"]]))
        for name, table in (("artifact_memberships", artifact_memberships),
                            ("artifact_aliases", artifact_aliases)):
            for r in t[name]:
                _insert(conn, table, r, collection_id=collection_ids[r["collection_id"]],
                        artifact_id=artifact_ids[r["artifact_id"]])
        for r in t["artifact_files"]:
            _insert(conn, artifact_files, r, artifact_id=artifact_ids[r["artifact_id"]])
        for name, table in (("artifact_usages", artifact_usages),
                            ("artifact_outputs", artifact_outputs)):
            for r in t[name]:
                run_id = _run_id(conn, r)
                if run_id is not None:  # a run left out of the export
                    _insert(conn, table, r, run_id=run_id,
                            artifact_id=artifact_ids[r["artifact_id"]])
        accounts.set_setting(conn, marker, json.dumps({"artifacts": len(artifact_ids)}))
    report.artifacts += len(t["artifacts"])


def _run_id(conn: Connection, row: dict[str, Any]) -> int | None:
    entity, project, name = (row.get(c) for c in _PATH_COLUMNS)
    if not (entity and project and name):
        return None
    run = run_repo.find_run_by_path(conn, entity, project, name)
    return None if run is None else run.id


def _values(table: Table, row: dict[str, Any], overrides: dict[str, Any],
            keep_id: bool = False) -> dict[str, Any]:
    columns = {c.name for c in table.c}
    values = {k: v for k, v in row.items() if k in columns and k not in _PATH_COLUMNS}
    if not keep_id:
        values.pop("id", None)
    # A folder written before a column existed (or by an importer that does not know it)
    # leaves it empty: the column's own default fills it, as for a row written today.
    for column in table.c:
        if values.get(column.name, 0) is None and not column.nullable and (
                column.default is not None or column.server_default is not None):
            del values[column.name]
    values.update(overrides)
    return values


def _insert(conn: Connection, table: Table, row: dict[str, Any], **overrides: Any) -> int:
    values = _values(table, row, overrides)
    result = conn.execute(table.insert().values(**values))
    key: Sequence[Any] | None = result.inserted_primary_key
    return int(key[0]) if key and "id" in table.c else 0


def _get_or_insert(conn: Connection, table: Table, row: dict[str, Any], **overrides: Any) -> int:
    """The id of the row of ``table`` in this project with ``row``'s name, inserted when
    missing (types and collections are shared by name)."""
    found = conn.execute(select(table.c.id).where(
        table.c.project_id == overrides["project_id"],
        table.c.name == row["name"])).scalar_one_or_none()
    if found is not None:
        return int(found)
    return _insert(conn, table, row, **overrides)
