"""Runs and run files: creation, partial updates, lifecycle transitions and listing."""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Select, bindparam, func, select, update

from tracklet.domain.records import Project, Run, RunFields, RunFile
from tracklet.domain.runs import RUN_NAME_ALPHABET, RunState
from tracklet.errors import NotFound
from tracklet.storage.metadata import compaction_queue
from tracklet.storage.metadata.strict_json import with_strict_shadows
from tracklet.storage.metadata.tables import (
    deleted_runs,
    entities,
    projects,
    run_files,
    runs,
    users,
)
from tracklet.storage.metadata.upsert import upsert_rows

_ADJECTIVES = [
    "amber",
    "azure",
    "bold",
    "brisk",
    "calm",
    "clever",
    "cosmic",
    "crisp",
    "dainty",
    "dashing",
    "deft",
    "eager",
    "earnest",
    "easy",
    "fancy",
    "fast",
    "fiery",
    "fluent",
    "gallant",
    "gentle",
    "glad",
    "golden",
    "graceful",
    "hardy",
    "honest",
    "icy",
    "jolly",
    "keen",
    "lively",
    "lucid",
    "lunar",
    "misty",
    "noble",
    "olive",
    "polished",
    "proud",
    "quiet",
    "radiant",
    "rare",
    "rosy",
    "royal",
    "rural",
    "sage",
    "scarlet",
    "serene",
    "sharp",
    "silver",
    "smooth",
    "snowy",
    "solar",
    "spring",
    "stellar",
    "still",
    "sunny",
    "swift",
    "true",
    "vague",
    "vital",
    "warm",
    "wild",
    "wise",
    "worldly",
    "young",
    "zesty",
]
_NOUNS = [
    "aardvark",
    "bird",
    "breeze",
    "brook",
    "butterfly",
    "canyon",
    "cherry",
    "cloud",
    "comet",
    "darkness",
    "dawn",
    "deluge",
    "dew",
    "dream",
    "dust",
    "eon",
    "feather",
    "field",
    "firebrand",
    "firefly",
    "flower",
    "fog",
    "forest",
    "frost",
    "galaxy",
    "glade",
    "glitter",
    "grass",
    "haze",
    "hill",
    "lake",
    "leaf",
    "meadow",
    "moon",
    "morning",
    "mountain",
    "night",
    "oath",
    "ocean",
    "paper",
    "pine",
    "planet",
    "plasma",
    "pond",
    "rain",
    "resonance",
    "river",
    "salad",
    "sea",
    "shadow",
    "shape",
    "sky",
    "smoke",
    "snow",
    "sound",
    "spaceship",
    "spirit",
    "star",
    "sun",
    "sunset",
    "surf",
    "terrain",
    "thunder",
    "totem",
    "tree",
    "universe",
    "vortex",
    "water",
    "wave",
    "wind",
    "wood",
]

RUN_COLUMNS = (
    runs.c.id,
    runs.c.project_id,
    entities.c.name.label("entity"),
    projects.c.name.label("project"),
    runs.c.name,
    runs.c.user_id,
    users.c.username,
    runs.c.display_name,
    runs.c.state,
    runs.c.config,
    runs.c.summary,
    runs.c.system_metrics,
    runs.c.metadata,
    runs.c.tags,
    runs.c.notes,
    runs.c.description,
    runs.c.group_name.label("group"),
    runs.c.job_type,
    runs.c.sweep_name,
    runs.c.host,
    runs.c.program,
    runs.c.repo,
    runs.c.commit_hash.label("commit"),
    runs.c.exit_code,
    runs.c.created_at,
    runs.c.updated_at,
    runs.c.heartbeat_at,
    runs.c.history_line_count,
    runs.c.events_line_count,
    runs.c.log_line_count,
    runs.c.last_step,
    runs.c.stop_requested,
)


def run_select() -> Select[Any]:
    """SELECT of every Run field with entity, project and user joined in."""
    return (
        select(*RUN_COLUMNS)
        .select_from(runs)
        .join(projects, projects.c.id == runs.c.project_id)
        .join(entities, entities.c.id == projects.c.entity_id)
        .outerjoin(users, users.c.id == runs.c.user_id)
    )


def to_run(row: Any) -> Run:
    """A Run record from a row of :func:`run_select`."""
    m = dict(row._mapping)
    m["tags"] = tuple(orjson.loads(m["tags"] or "[]"))
    return Run(**m)


def get_run_by_id(conn: Connection, run_id: int) -> Run | None:
    """The run with this primary key, or None."""
    row = conn.execute(run_select().where(runs.c.id == run_id)).first()
    return to_run(row) if row else None


def find_run(conn: Connection, project_id: int, name: str) -> Run | None:
    """The run ``name`` in a project, or None."""
    row = conn.execute(_find_run_query(), {"project_id": project_id, "name": name}).first()
    return to_run(row) if row else None


@functools.cache
def _find_run_query() -> Select[Any]:
    # Built once: every GraphQL request naming a run (each history page) looks it up, and
    # building and keying this joined select costs more than SQLite answering it.
    return run_select().where(runs.c.project_id == bindparam("project_id"),
                              runs.c.name == bindparam("name"))


def find_run_by_path(conn: Connection, entity: str, project: str, name: str) -> Run | None:
    """The run ``entity/project/name``, or None."""
    row = conn.execute(_by_path_query(),
                       {"entity": entity, "project": project, "name": name}).first()
    return to_run(row) if row else None


@functools.cache
def _by_path_query() -> Select[Any]:
    return run_select().where(entities.c.name == bindparam("entity"),
                              projects.c.name == bindparam("project"),
                              runs.c.name == bindparam("name"))


def get_run_by_path(conn: Connection, entity: str, project: str, name: str) -> Run:
    """The run ``entity/project/name``; NotFound when missing."""
    run = find_run_by_path(conn, entity, project, name)
    if run is None:
        raise NotFound(f"run {entity}/{project}/{name} not found")
    return run


def new_run_name() -> str:
    """An 8-character run id like the SDK's own."""
    return "".join(secrets.choice(RUN_NAME_ALPHABET) for _ in range(8))


def _display_name(conn: Connection, project_id: int) -> str:
    count = conn.execute(
        select(func.count()).select_from(runs).where(runs.c.project_id == project_id)
    ).scalar_one()
    return f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-{int(count) + 1}"


def _field_values(fields: RunFields) -> dict[str, Any]:
    mapping = {
        "display_name": fields.display_name,
        "config": fields.config,
        "tags": None if fields.tags is None else orjson.dumps(list(fields.tags)).decode(),
        "notes": fields.notes,
        "description": fields.description,
        "group_name": fields.group,
        "job_type": fields.job_type,
        "sweep_name": fields.sweep_name,
        "host": fields.host,
        "program": fields.program,
        "repo": fields.repo,
        "commit_hash": fields.commit,
        "state": fields.state,
        "summary": fields.summary,
    }
    return {k: v for k, v in mapping.items() if v is not None}


def create_run(
    conn: Connection, project: Project, name: str | None, user_id: int | None, fields: RunFields
) -> Run:
    """Insert a new running run; a display name is generated when none is given."""
    now = time.time()
    values: dict[str, Any] = {
        "config": "{}",
        "summary": "{}",
        "system_metrics": "{}",
        "tags": "[]",
        "state": RunState.RUNNING.value,
    }
    values.update(_field_values(fields))
    if not values.get("display_name"):
        values["display_name"] = _display_name(conn, project.id)
    if conn.dialect.name == "sqlite":
        values["id"] = _next_sqlite_id(conn)
    pk = conn.execute(
        runs.insert().values(
            project_id=project.id,
            name=name or new_run_name(),
            user_id=user_id,
            created_at=now,
            updated_at=now,
            heartbeat_at=now,
            history_line_count=0,
            events_line_count=0,
            log_line_count=0,
            **with_strict_shadows(values),
        )
    ).inserted_primary_key
    assert pk is not None
    conn.execute(update(projects).where(projects.c.id == project.id).values(updated_at=now))
    run = get_run_by_id(conn, int(pk[0]))
    assert run is not None
    return run


def next_run_id(conn: Connection) -> int | None:
    """The id a new run must take on SQLite (never a deleted run's); None on PostgreSQL,
    whose sequence never hands an id out twice."""
    return _next_sqlite_id(conn) if conn.dialect.name == "sqlite" else None


def _next_sqlite_id(conn: Connection) -> int:
    """One past every id a run ever had, deleted ones included (writes are serialised)."""
    live = conn.execute(select(func.max(runs.c.id))).scalar_one() or 0
    gone = conn.execute(select(func.max(deleted_runs.c.id))).scalar_one() or 0
    return int(max(live, gone)) + 1


def update_run(conn: Connection, run_id: int, fields: RunFields) -> Run:
    """Apply the non-None ``fields`` to a run and return it."""
    values = _field_values(fields)
    values["updated_at"] = time.time()
    values["revision"] = runs.c.revision + 1
    conn.execute(update(runs).where(runs.c.id == run_id).values(**with_strict_shadows(values)))
    run = get_run_by_id(conn, run_id)
    if run is None:
        raise NotFound(f"run {run_id} not found")
    return run


def set_run_columns(conn: Connection, run_id: int, **values: Any) -> None:
    """Low-level column update used by ingest (counts, state, heartbeat)."""
    conn.execute(update(runs).where(runs.c.id == run_id).values(
        revision=runs.c.revision + 1, **with_strict_shadows(values)))


def delete_run(conn: Connection, run_id: int) -> None:
    """Delete a run and (by cascade) its history, events, console and files."""
    from tracklet.storage.metadata.tables import console, events, history_chunks, stream_writers

    for table in (history_chunks, events, console, run_files, stream_writers):
        conn.execute(table.delete().where(table.c.run_id == run_id))
    conn.execute(runs.delete().where(runs.c.id == run_id))


def mark_crashed(conn: Connection, heartbeat_before: float) -> int:
    """Runs still live whose last heartbeat is older than ``heartbeat_before`` become crashed
    (or preempted, when they announced preemption). Returns how many changed.

    Those runs are queued for history compaction like finished ones.
    """
    changed: list[int] = []
    for live_state in (RunState.RUNNING, RunState.PREEMPTING):
        silent = (runs.c.state == live_state.value, runs.c.heartbeat_at < heartbeat_before)
        ids = list(conn.execute(select(runs.c.id).where(*silent)).scalars())
        if not ids:
            continue
        conn.execute(
            update(runs)
            .where(runs.c.id.in_(ids), *silent)
            # A pending stop dies with the run; a later resume must not be stopped by it.
            .values(state=RunState.after_silence(live_state.value).value, stop_requested=False,
                    revision=runs.c.revision + 1)
        )
        changed.extend(ids)
    if changed:
        compaction_queue.request(conn, changed)
    return len(changed)


def request_stop(conn: Connection, run_id: int) -> bool:
    """Flag a live run to stop; the SDK learns it from its next file_stream response.

    Returns whether the run is live (a finished run has nothing to stop)."""
    result = conn.execute(
        update(runs)
        .where(runs.c.id == run_id,
               runs.c.state.in_([RunState.RUNNING.value, RunState.PREEMPTING.value]))
        .values(stop_requested=True, updated_at=time.time(), revision=runs.c.revision + 1)
    )
    return bool(result.rowcount)


def count_runs(conn: Connection, project_id: int) -> int:
    """Number of runs in a project."""
    return int(
        conn.execute(
            select(func.count()).select_from(runs).where(runs.c.project_id == project_id)
        ).scalar_one()
    )


# -- run files --------------------------------------------------------------------------------


def _run_file(row: Any) -> RunFile:
    return RunFile(**row._mapping)


def register_run_files(conn: Connection, run_id: int, names: Sequence[str]) -> None:
    """Make sure a row exists for each name (an upload URL was handed out for it)."""
    existing = set(
        conn.execute(
            select(run_files.c.name).where(
                run_files.c.run_id == run_id, run_files.c.name.in_(list(names))
            )
        ).scalars()
    )
    now = time.time()
    new = [
        {
            "run_id": run_id,
            "name": n,
            "size": 0,
            "created_at": now,
            "updated_at": now,
            "uploaded": False,
        }
        for n in dict.fromkeys(names)
        if n not in existing
    ]
    if new:
        conn.execute(run_files.insert(), new)


def store_run_file(
    conn: Connection,
    run_id: int,
    name: str,
    blob_key: str,
    md5: str,
    size: int,
    mimetype: str | None,
) -> None:
    """Record that ``name`` now holds the blob ``blob_key``."""
    now = time.time()
    upsert_rows(
        conn,
        run_files,
        [
            {
                "run_id": run_id,
                "name": name,
                "blob_key": blob_key,
                "md5": md5,
                "size": size,
                "mimetype": mimetype,
                "created_at": now,
                "updated_at": now,
                "uploaded": True,
            }
        ],
        keys=("run_id", "name"),
        update=("blob_key", "md5", "size", "mimetype", "updated_at", "uploaded"),
    )


def get_run_file(conn: Connection, run_id: int, name: str) -> RunFile | None:
    """The file ``name`` of a run, or None."""
    row = conn.execute(
        select(run_files).where(run_files.c.run_id == run_id, run_files.c.name == name)
    ).first()
    return _run_file(row) if row else None


def delete_run_file(conn: Connection, run_id: int, name: str) -> None:
    """Forget the file ``name`` of a run (no error when there is none)."""
    conn.execute(run_files.delete().where(run_files.c.run_id == run_id,
                                          run_files.c.name == name))


def list_run_files(
    conn: Connection,
    run_id: int,
    names: Sequence[str] | None = None,
    after: str | None = None,
    limit: int | None = None,
    stored_only: bool = True,
    pattern: str | None = None,
) -> list[RunFile]:
    """A run's files ordered by name, optionally restricted to ``names`` or to names matching
    the SQL LIKE ``pattern`` (``%`` any run, ``_`` one character, case-insensitive as in
    W&B), paged by name."""
    q = select(run_files).where(run_files.c.run_id == run_id).order_by(run_files.c.name)
    if stored_only:
        q = q.where(run_files.c.blob_key.is_not(None))
    if names:
        q = q.where(run_files.c.name.in_(list(names)))
    if pattern:
        q = q.where(run_files.c.name.ilike(pattern, escape="\\"))
    if after is not None:
        q = q.where(run_files.c.name > after)
    if limit is not None:
        q = q.limit(limit)
    return [_run_file(r) for r in conn.execute(q)]


def count_run_files(conn: Connection, run_id: int) -> int:
    """Number of stored files of a run."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(run_files)
            .where(run_files.c.run_id == run_id, run_files.c.blob_key.is_not(None))
        ).scalar_one()
    )
