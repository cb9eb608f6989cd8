"""Creating and updating runs the way UpsertBucket asks."""

from __future__ import annotations

from dataclasses import dataclass

from tracklet.domain.names import validate_name, validate_run_name
from tracklet.domain.policy import Action, require
from tracklet.domain.records import Run, RunFields, User
from tracklet.errors import NotFound
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.teams import ensure_writable_entity


@dataclass(frozen=True)
class UpsertRequest:
    """What UpsertBucket names: a run by storage id, or by entity/project/name."""

    run_id: int | None
    name: str | None
    project: str | None
    entity: str | None
    fields: RunFields


def upsert_run(storage: Storage, user: User, req: UpsertRequest) -> tuple[Run, bool]:
    """Create or partially update a run; returns (run, inserted).

    Keyed on (entity, project, name) so a retried request never creates a second run.
    A missing entity means the caller's default entity; a missing project means "uncategorized".
    """
    with storage.db.write() as conn:
        if req.run_id is not None:
            run = run_repo.get_run_by_id(conn, req.run_id)
            if run is None:
                raise NotFound("run not found")
            require(user, Action.WRITE, run.entity, run.project, missing="run not found")
            return run_repo.update_run(conn, run.id, req.fields), False
        entity_name = validate_name("entity", req.entity or user.entity)
        project_name = validate_name("project", req.project or "uncategorized")
        if req.name is not None:
            validate_run_name(req.name)
        entity = ensure_writable_entity(conn, user, entity_name)
        require(user, Action.WRITE, entity_name, project_name)
        project = accounts.ensure_project(conn, entity, project_name)
        if req.name is not None:
            existing = run_repo.find_run(conn, project.id, req.name)
            if existing is not None:
                return run_repo.update_run(conn, existing.id, req.fields), False
        return run_repo.create_run(conn, project, req.name, user.id, req.fields), True
