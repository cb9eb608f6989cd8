"""The console's views as Arrow tables, built from one read snapshot for one user's runs.

``runs``, ``history``, ``system_metrics`` and ``artifacts`` hold only the runs of
:func:`tracklet.sql.scope.readable_entities` (optionally narrowed to one entity or
project); ``docs/query.md`` lists their columns. ``history`` is read per run through the
same merged scan that ``GET /api/v1/runs/history`` streams
(:class:`tracklet.storage.history.read.columns.ColumnScan`), so its rows are that
endpoint's rows on every tier: live rows, a checkpointed running run, a compacted one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from tracklet.domain.records import Run
from tracklet.sql.flatten import strict_json, typed_columns
from tracklet.storage.facade import Storage
from tracklet.storage.history.export.format import ENCODING, JSON, STEP
from tracklet.storage.history.export.table import Export
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.read.columns import ColumnScan
from tracklet.storage.history.read.keys import history_keys
from tracklet.storage.history.read.tiers import RunHistory
from tracklet.storage.metadata.artifacts import live_clause
from tracklet.storage.metadata.runs import run_select, to_run
from tracklet.storage.metadata.tables import (
    artifact_aliases,
    artifact_collections,
    artifact_types,
    artifacts,
    entities,
    events,
    history_chunks,
    history_exports,
    projects,
    runs,
)

#: The view names, in the order they are documented.
VIEWS = ("runs", "history", "system_metrics", "artifacts")
RUN = "run"
#: ``runs`` columns before the flattened config and summary ones.
RUN_FIELDS = ("run", "entity", "project", "id", "name", "state", "group", "job_type", "tags",
              "user", "created_at", "updated_at", "heartbeat_at", "runtime", "sweep", "host",
              "notes", "last_step", "config", "summary")
_JSON = 'CAST("{0}" AS JSON)'
_TIME = 'to_timestamp("{0}")'
#: Per view, the columns DuckDB converts as it copies the Arrow table in (SQL templates).
CONVERSIONS = {
    "runs": {"config": _JSON, "summary": _JSON, "created_at": _TIME, "updated_at": _TIME,
             "heartbeat_at": _TIME},
    "artifacts": {"metadata": _JSON, "created_at": _TIME, "committed_at": _TIME},
}

Check = Callable[[], None]


@dataclass(frozen=True)
class Scope:
    """The runs a query sees: those of ``entities`` (readable by its user), optionally
    only ``project`` of them."""

    entities: Sequence[str]
    project: str | None = None
    #: Whether the user may read a project (entity, project) of those entities.
    readable: Callable[[str, str], bool] = lambda _entity, _project: False


def run_path(run: Run) -> str:
    """The ``entity/project/id`` key shared by every view."""
    return f"{run.entity}/{run.project}/{run.name}"


def load_runs(conn: Connection, scope: Scope) -> list[Run]:
    """The scope's runs, oldest first."""
    if not scope.entities:
        return []
    q = run_select().where(entities.c.name.in_(list(scope.entities)))
    if scope.project is not None:
        q = q.where(projects.c.name == scope.project)
    found = (to_run(row) for row in conn.execute(q.order_by(runs.c.created_at, runs.c.id)))
    return [run for run in found if scope.readable(run.entity, run.project)]


def _config_values(text: str) -> dict[str, Any]:
    """A stored config unwrapped as ``wandb.Api()`` shows it: ``{key: value}`` without the
    SDK's own ``_wandb`` entry."""
    raw = loads_object(text) or {}
    out: dict[str, Any] = {}
    for key, item in raw.items():
        if key == "_wandb":
            continue
        out[key] = item["value"] if isinstance(item, dict) and "value" in item else item
    return out


def _times(seconds: list[float | None]) -> pa.Array:
    """Epoch seconds, made ``TIMESTAMPTZ`` by DuckDB (:data:`CONVERSIONS`): a timestamp
    type with a zone makes pyarrow import pandas, a second's work on first use."""
    return pa.array(seconds, pa.float64())


def _runtime(run: Run, summary: dict[str, Any]) -> float:
    value = summary.get("_runtime")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return max(0.0, run.heartbeat_at - run.created_at)


def runs_table(run_list: list[Run]) -> pa.Table:
    """The ``runs`` view."""
    configs = [_config_values(r.config) for r in run_list]
    summaries = [loads_object(r.summary) or {} for r in run_list]
    columns: dict[str, pa.Array] = {
        "run": pa.array([run_path(r) for r in run_list], pa.string()),
        "entity": pa.array([r.entity for r in run_list], pa.string()),
        "project": pa.array([r.project for r in run_list], pa.string()),
        "id": pa.array([r.name for r in run_list], pa.string()),
        "name": pa.array([r.display_name for r in run_list], pa.string()),
        "state": pa.array([r.state for r in run_list], pa.string()),
        "group": pa.array([r.group for r in run_list], pa.string()),
        "job_type": pa.array([r.job_type for r in run_list], pa.string()),
        "tags": pa.array([list(r.tags) for r in run_list], pa.list_(pa.string())),
        "user": pa.array([r.username for r in run_list], pa.string()),
        "created_at": _times([r.created_at for r in run_list]),
        "updated_at": _times([r.updated_at for r in run_list]),
        "heartbeat_at": _times([r.heartbeat_at for r in run_list]),
        "runtime": pa.array([_runtime(r, s) for r, s in zip(run_list, summaries, strict=True)],
                            pa.float64()),
        "sweep": pa.array([r.sweep_name for r in run_list], pa.string()),
        "host": pa.array([r.host for r in run_list], pa.string()),
        "notes": pa.array([r.notes for r in run_list], pa.string()),
        "last_step": pa.array([r.last_step for r in run_list], pa.int64()),
        "config": pa.array([strict_json(c) for c in configs], pa.string()),
        "summary": pa.array([strict_json(s) for s in summaries], pa.string()),
    }
    columns.update(typed_columns(configs, "config."))
    columns.update(typed_columns(summaries, "summary.", exclude=("_wandb",)))
    return pa.table(columns)


# -- history ------------------------------------------------------------------------------


def _unified(types: list[pa.DataType]) -> pa.DataType:
    """One column type for a key typed per run: the same one, a number for numbers, else
    text (numbers and booleans as their JSON text)."""
    known = {t for t in types if not pa.types.is_null(t)}
    if not known:
        return pa.null()
    if len(known) == 1:
        return known.pop()
    if all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in known):
        return pa.float64()
    return pa.string()


def _cast(column: pa.ChunkedArray, to: pa.DataType) -> pa.ChunkedArray:
    if column.type == to:
        return column
    if pa.types.is_boolean(column.type) and pa.types.is_string(to):
        return pc.if_else(column, "true", "false")
    return pc.cast(column, to, safe=False)


def unique_names(names: Sequence[str], taken: Sequence[str]) -> list[str]:
    """``names`` made unique case-insensitively (SQL identifiers are): a later clash gets
    `` (2)``, `` (3)``...; ``taken`` are names already used by the view."""
    seen = {t.lower() for t in taken}
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


@dataclass
class HistoryParts:
    """The ``history`` view's rows in two parts: runs whose whole history sits in export
    files holding the statement's keys as plain columns (read by DuckDB straight from those
    files, filtered to rows holding at least one key: what the merged scan answers for
    them), and the rest (live rows, JSON or nested columns) as rows of the merged scan."""

    #: (run, local path of one export part) of the runs read from their files.
    files: list[tuple[str, str]]
    #: The keys those files hold that the statement wants.
    file_keys: list[str]
    #: Keys of which a row must hold one to be kept (empty: every row holds one).
    filter_keys: list[str]
    #: The other runs' rows, a ``run`` column first.
    rows: pa.Table


def _exports_by_run(conn: Connection, run_ids: list[int]) -> dict[int, list[Export]]:
    out: dict[int, list[Export]] = {}
    for start in range(0, len(run_ids), 500):
        q = (select(history_exports)
             .where(history_exports.c.run_id.in_(run_ids[start:start + 500]))
             .order_by(history_exports.c.run_id, history_exports.c.part))
        for row in conn.execute(q):
            export = Export(**row._mapping)
            out.setdefault(export.run_id, []).append(export)
    return out


def _with_live_rows(conn: Connection, run_ids: list[int]) -> set[int]:
    out: set[int] = set()
    for start in range(0, len(run_ids), 500):
        q = (select(history_chunks.c.run_id).distinct()
             .where(history_chunks.c.run_id.in_(run_ids[start:start + 500])))
        out.update(conn.execute(q).scalars())
    return out


@dataclass(frozen=True)
class _Plain:
    """A run read from its export files: their paths, the wanted keys they hold, all their
    keys, and whether every row holds a value (a key without nulls in each part)."""

    paths: list[str]
    keys: set[str]
    all_keys: set[str]
    dense: bool


def _dense(export: Export) -> bool:
    """Whether some key holds a value in every row of the part (from its statistics: only
    the counts, read without building the statistics objects)."""
    try:
        stats = orjson.loads(export.key_stats or "{}")
    except orjson.JSONDecodeError:
        return False
    for key, data in stats.items():
        if key == STEP or not isinstance(data, dict):
            continue
        nulls = sum(int(t.get("count", 0)) for t in data.get("typeCounts", [])
                    if t.get("type") == "nil")
        if int(data.get("count", 0)) - nulls == export.row_count:
            return True
    return False


def _plain_files(storage: Storage, exports: list[Export],
                 wanted: Callable[[str], bool]) -> _Plain | None:
    """The run's export files, when every wanted key is a plain column in each (else None:
    the merged scan decodes the others)."""
    paths: list[str] = []
    keys: set[str] = set()
    all_keys: set[str] = set()
    dense = True
    for export in exports:
        # The storage's own readers: their paths and footers are remembered between
        # statements, so a repeated statement opens no file here.
        file = storage.files.open(export)
        try:
            held = [k for k in file.keys if wanted(k)]
            if any(k in file.json_keys or k in file.nested_keys for k in held):
                return None
        finally:
            file.close()
        dense = dense and _dense(export)
        paths.append(file.path)
        keys.update(held)
        all_keys.update(file.keys)
    return _Plain(paths, keys, all_keys, dense)


def history_parts(storage: Storage, conn: Connection, run_list: list[Run],
                  wanted: Callable[[str], bool], check: Check) -> HistoryParts:
    """The ``history`` view's rows: per run, what ``GET /api/v1/runs/history`` answers for
    all the run's keys (its rows holding at least one), with the columns of the keys that
    ``wanted`` accepts: which columns a statement loads never changes which rows it sees."""
    ids = [r.id for r in run_list]
    exports = _exports_by_run(conn, ids)
    live = _with_live_rows(conn, ids)
    plain: dict[int, _Plain] = {}
    for run in run_list:
        check()
        if run.id in exports and run.id not in live:
            found = _plain_files(storage, exports[run.id], wanted)
            if found is not None:
                plain[run.id] = found
    file_keys: set[str] = set().union(*(p.keys for p in plain.values()))
    # Rows holding no value are dropped (as the endpoint does) by a filter over every key
    # of the files, needed only when some file has no key that every row holds.
    filter_keys: set[str] = set().union(*(p.all_keys for p in plain.values())) \
        if not all(p.dense for p in plain.values()) else set()
    lowered = [k.lower() for k in file_keys | filter_keys]
    if len(set(lowered)) < len(lowered) or {RUN, STEP, "filename"} & set(lowered):
        plain = {}  # names only the merged scan's renaming keeps apart
        file_keys, filter_keys = set(), set()
    files: list[tuple[str, str]] = []
    parts: list[tuple[str, pa.Table]] = []
    for run in run_list:
        if run.id in plain:
            files += [(run_path(run), path) for path in plain[run.id].paths]
            continue
        check()
        view = RunHistory(storage, conn, run.id)
        try:
            keys = [k for k in history_keys(view)["keys"] if k != STEP]
            if not keys:
                continue
            tables = [t.select([STEP, *(k for k in keys if wanted(k))])
                      for t in ColumnScan(view, keys).tables()]
            if tables:
                parts.append((run_path(run), pa.concat_tables(tables)))
        finally:
            view.close()
    return HistoryParts(files, sorted(file_keys), sorted(filter_keys),
                        _stack(parts, leading=(RUN, STEP)))


def _stack(parts: list[tuple[str, pa.Table]], leading: Sequence[str]) -> pa.Table:
    """Per-run tables (their first column ``_step`` or none) stacked under one schema with
    a ``run`` column first; keys sorted, types unified across runs. A key held as JSON text
    by any run (dicts, lists, mixed kinds) is JSON text in every run, its field marked
    with the export's ``tracklet.encoding=json``."""
    types: dict[str, list[pa.DataType]] = {}
    as_json: set[str] = set()
    for _path, table in parts:
        for field in table.schema:
            if field.name != STEP:
                types.setdefault(field.name, []).append(field.type)
                if field.metadata and field.metadata.get(ENCODING) == JSON:
                    as_json.add(field.name)
    keys = sorted(types)
    final = {k: pa.string() if k in as_json else _unified(types[k]) for k in keys}
    names = unique_names(keys, leading)
    fields = [pa.field(RUN, pa.string())]
    if STEP in leading:
        fields.append(pa.field(STEP, pa.int64()))
    fields += [pa.field(n, final[k] if not pa.types.is_null(final[k]) else pa.string(),
                        metadata={ENCODING: JSON} if k in as_json else None)
               for n, k in zip(names, keys, strict=True)]
    schema = pa.schema(fields)
    out = []
    for path, table in parts:
        n = table.num_rows
        arrays: list[pa.Array | pa.ChunkedArray] = [pa.array([path] * n, pa.string())]
        if STEP in leading:
            arrays.append(table.column(STEP))
        for key, field in zip(keys, list(schema)[len(arrays):], strict=True):
            index = table.schema.get_field_index(key)
            if index < 0:
                arrays.append(pa.nulls(n, field.type))
                continue
            source = table.schema.field(index)
            if key in as_json and not (source.metadata
                                       and source.metadata.get(ENCODING) == JSON):
                arrays.append(pa.array([None if v is None else strict_json(v)
                                        for v in table.column(index).to_pylist()],
                                       pa.string()))
            else:
                arrays.append(_cast(table.column(index), field.type))
        out.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(out) if out else schema.empty_table()


def json_fields(table: pa.Table) -> list[str]:
    """The columns of ``table`` holding JSON text (marked ``tracklet.encoding=json``)."""
    return [f.name for f in table.schema
            if f.metadata and f.metadata.get(ENCODING) == JSON]


# -- system metrics -----------------------------------------------------------------------


def system_metrics_table(conn: Connection, run_list: list[Run], check: Check) -> pa.Table:
    """The ``system_metrics`` view: a row per system-metrics line of each run, in order."""
    by_id = {r.id: run_path(r) for r in run_list}
    paths: list[str] = []
    docs: list[dict[str, Any]] = []
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        check()
        q = (select(events.c.run_id, events.c.data)
             .where(events.c.run_id.in_(ids[start:start + 500]))
             .order_by(events.c.run_id, events.c.line))
        for run_id, data in conn.execute(q):
            doc = loads_object(data)
            if doc is not None:
                paths.append(by_id[run_id])
                docs.append(doc)
    columns: dict[str, pa.Array] = {RUN: pa.array(paths, pa.string())}
    flat = typed_columns(docs, "")
    for name, key in zip(unique_names(list(flat), [RUN]), flat, strict=True):
        columns[name] = flat[key]
    return pa.table(columns)


# -- artifacts ----------------------------------------------------------------------------


def artifacts_table(conn: Connection, scope: Scope, run_list: list[Run]) -> pa.Table:
    """The ``artifacts`` view: a row per live (committed, unexpired) artifact version in
    the scope's projects."""
    q = (select(artifacts.c.id, entities.c.name.label("entity"),
                projects.c.name.label("project"),
                artifact_collections.c.name.label("collection"),
                artifact_types.c.name.label("type"), artifacts.c.version_index,
                artifacts.c.digest, artifacts.c.state, artifacts.c.size,
                artifacts.c.file_count, artifacts.c.description, artifacts.c.metadata,
                artifacts.c.tags, artifacts.c.created_at, artifacts.c.committed_at,
                artifacts.c.created_by_run_id)
         .select_from(artifacts)
         .join(artifact_collections, artifact_collections.c.id == artifacts.c.sequence_id)
         .join(artifact_types, artifact_types.c.id == artifacts.c.type_id)
         .join(projects, projects.c.id == artifact_collections.c.project_id)
         .join(entities, entities.c.id == projects.c.entity_id)
         .where(entities.c.name.in_(list(scope.entities)), live_clause())
         .order_by(artifacts.c.id))
    if scope.project is not None:
        q = q.where(projects.c.name == scope.project)
    rows = [r for r in conn.execute(q) if scope.readable(r.entity, r.project)] \
        if scope.entities else []
    ids = [r.id for r in rows]
    aliases: dict[int, list[str]] = {}
    for start in range(0, len(ids), 500):
        aq = (select(artifact_aliases.c.artifact_id, artifact_aliases.c.alias)
              .where(artifact_aliases.c.artifact_id.in_(ids[start:start + 500]))
              .order_by(artifact_aliases.c.alias))
        for artifact_id, alias in conn.execute(aq):
            aliases.setdefault(artifact_id, []).append(alias)
    # Only runs the user may read are named as an artifact's creator.
    visible = {r.id: run_path(r) for r in run_list}
    return pa.table({
        "entity": pa.array([r.entity for r in rows], pa.string()),
        "project": pa.array([r.project for r in rows], pa.string()),
        "collection": pa.array([r.collection for r in rows], pa.string()),
        "type": pa.array([r.type for r in rows], pa.string()),
        "version": pa.array([None if r.version_index is None else f"v{r.version_index}"
                             for r in rows], pa.string()),
        "aliases": pa.array([aliases.get(r.id, []) for r in rows], pa.list_(pa.string())),
        "digest": pa.array([r.digest for r in rows], pa.string()),
        "size": pa.array([r.size for r in rows], pa.int64()),
        "file_count": pa.array([r.file_count for r in rows], pa.int64()),
        "description": pa.array([r.description for r in rows], pa.string()),
        "metadata": pa.array([strict_json(loads_object(r.metadata or "{}") or {})
                              for r in rows], pa.string()),
        "tags": pa.array([_tags(r.tags) for r in rows], pa.list_(pa.string())),
        "created_at": _times([r.created_at for r in rows]),
        "committed_at": _times([r.committed_at for r in rows]),
        "run": pa.array([visible.get(r.created_by_run_id) for r in rows], pa.string()),
    })


def _tags(text: str | None) -> list[str]:
    try:
        value = orjson.loads(text or "[]")
    except orjson.JSONDecodeError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []
