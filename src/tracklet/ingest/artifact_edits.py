"""Changing committed artifacts: aliases, links to portfolios, metadata, deletion."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import Connection

from tracklet.domain.artifacts import (
    Artifact,
    ArtifactState,
    Collection,
    CollectionKind,
    Membership,
    validate_alias,
    validate_artifact_name,
)
from tracklet.domain.names import validate_name
from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.domain.registry import is_registry
from tracklet.errors import Conflict, InvalidInput, NotFound
from tracklet.ingest.artifacts import (
    get_artifact,
    metadata_text,
    ttl_values,
    validate_tags,
    writable_collection,
)
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts, audit
from tracklet.storage.metadata import artifacts as repo


@dataclass(frozen=True)
class AliasTarget:
    """An alias in a named collection (AddAliases / DeleteAliases input)."""

    entity: str
    project: str
    collection: str
    alias: str


def _committed(storage: Storage, user: User, artifact_id: int) -> Artifact:
    artifact = get_artifact(storage, user, artifact_id, write=True)
    if artifact.state is not ArtifactState.COMMITTED:
        raise InvalidInput(f"artifact {artifact_id} is {artifact.state.value.lower()}, "
                           "not committed")
    return artifact


def _member_collection(storage: Storage, user: User, artifact: Artifact,
                       target: AliasTarget) -> Collection:
    require(user, Action.WRITE, target.entity)
    with storage.db.read() as conn:
        project = accounts.find_project(conn, target.entity, target.project)
        collection = (repo.find_collection(conn, project.id, target.collection)
                      if project else None)
        member = (collection is not None
                  and repo.membership_version(conn, collection.id, artifact.id) is not None)
    if collection is None or not member:
        raise NotFound(f"artifact {artifact.sequence_name}:v{artifact.version_index} is not "
                       f"in {target.entity}/{target.project}/{target.collection}")
    return collection


def add_aliases(storage: Storage, user: User, artifact_id: int,
                targets: list[AliasTarget]) -> None:
    """Point each alias at this artifact, moving it away from any other version."""
    artifact = _committed(storage, user, artifact_id)
    resolved = [(_member_collection(storage, user, artifact, t), validate_alias(t.alias)
                 if t.alias != "latest" else "latest") for t in targets]
    with storage.db.write() as conn:
        for collection, alias in resolved:
            repo.set_alias(conn, collection.id, artifact.id, alias)


def delete_aliases(storage: Storage, user: User, artifact_id: int,
                   targets: list[AliasTarget]) -> None:
    """Remove aliases from this artifact (aliases held by other versions are untouched)."""
    artifact = _committed(storage, user, artifact_id)
    resolved = [(_member_collection(storage, user, artifact, t), t.alias) for t in targets]
    with storage.db.write() as conn:
        for collection, alias in resolved:
            repo.delete_alias(conn, collection.id, artifact.id, alias)


def update_artifact(storage: Storage, user: User, artifact_id: int, *,
                    description: str | None = None, metadata: str | None = None,
                    ttl_seconds: int | None = None, tags_add: tuple[str, ...] = (),
                    tags_delete: tuple[str, ...] = ()) -> Artifact:
    """Change description, metadata, TTL and tags of a committed artifact."""
    artifact = _committed(storage, user, artifact_id)
    values: dict[str, object] = {}
    if description is not None:
        values["description"] = description
    if metadata is not None:
        values["metadata"] = metadata_text(metadata)
    if ttl_seconds is not None:
        values["ttl_seconds"], values["ttl_inherited"] = ttl_values(ttl_seconds)
    if tags_add or tags_delete:
        drop = set(tags_delete)
        tags = [t for t in artifact.tags if t not in drop]
        tags += [t for t in validate_tags(tags_add) if t not in tags]
        values["tags"] = orjson.dumps(tags).decode()
    with storage.db.write() as conn:
        if values:
            repo.update_artifact(conn, artifact_id, **values)
        updated = repo.get_artifact(conn, artifact_id)
    assert updated is not None
    return updated


def _move_latest(conn: Connection, collection_id: int) -> None:
    newest = repo.latest_live(conn, collection_id)
    if newest is not None:
        repo.set_alias(conn, collection_id, newest.id, "latest")


def delete_artifact(storage: Storage, user: User, artifact_id: int,
                    delete_aliases: bool = False) -> Artifact:
    """Delete a version: it leaves every collection and is no longer found by name or id.

    Without ``delete_aliases`` an artifact that still carries aliases is not deleted
    (Conflict), as in W&B. Blobs stay: they are shared by content with other versions.
    """
    artifact = get_artifact(storage, user, artifact_id, write=True)
    with storage.db.write() as conn:
        memberships = repo.memberships_of_artifact(conn, artifact_id)
        held = sorted({a.alias for m in memberships for a in m.aliases})
        if held and not delete_aliases:
            raise Conflict(
                f"artifact has aliases {held}; delete them first or pass delete_aliases=True")
        repo.remove_memberships(conn, artifact_id)
        repo.delete_files(conn, artifact_id)
        repo.update_artifact(conn, artifact_id, state=ArtifactState.DELETED.value)
        audit.record(conn, user.username, "artifact.delete", f"artifact {artifact_id}")
        for membership in memberships:
            if any(a.alias == "latest" for a in membership.aliases):
                _move_latest(conn, membership.collection.id)
    return artifact


def link_artifact(storage: Storage, user: User, artifact_id: int, entity: str, project: str,
                  portfolio: str, aliases: list[str]) -> Membership:
    """Link a committed artifact into a portfolio (created on first use); idempotent."""
    artifact = _committed(storage, user, artifact_id)
    validate_name("entity", entity)
    validate_name("project", project)
    validate_artifact_name(portfolio)
    wanted = [validate_alias(a) for a in dict.fromkeys(aliases) if a != "latest"]
    require(user, Action.WRITE, entity, project)
    with storage.db.write() as conn:
        if is_registry(project) and accounts.find_project(conn, entity, project) is None:
            # A registry is made by its organization's admins, never by a first link.
            raise NotFound(f"project {entity}/{project} not found")
        proj = accounts.ensure_project(conn, accounts.ensure_entity(conn, entity), project)
        found = repo.find_collection(conn, proj.id, portfolio)
        if found is not None and found.id == artifact.sequence_id:
            collection = found
        else:
            collection = repo.ensure_collection(conn, proj, portfolio, artifact.type_name,
                                                CollectionKind.PORTFOLIO)
        if repo.membership_version(conn, collection.id, artifact.id) is None:
            version = repo.next_version(conn, collection.id)
            repo.add_membership(conn, collection.id, artifact.id, version)
            repo.set_alias(conn, collection.id, artifact.id, "latest")
        for alias in wanted:
            repo.set_alias(conn, collection.id, artifact.id, alias)
        membership = repo.membership_of(conn, collection, artifact.id)
    assert membership is not None
    return membership


def unlink_artifact(storage: Storage, user: User, artifact_id: int, collection_id: int) -> None:
    """Remove an artifact from a portfolio (its source sequence cannot be unlinked)."""
    artifact = get_artifact(storage, user, artifact_id)
    with storage.db.write() as conn:
        collection = writable_collection(conn, user, collection_id)
        if collection.kind is not CollectionKind.PORTFOLIO:
            raise InvalidInput("only links to portfolios can be removed; delete the artifact "
                               "to remove it from its own sequence")
        latest = any(a.alias == "latest" for a in repo.aliases_of(
            conn, [artifact.id], collection.id)[artifact.id])
        repo.remove_memberships(conn, artifact.id, collection.id)
        if latest:
            _move_latest(conn, collection.id)


def delete_collection(storage: Storage, user: User, collection_id: int) -> Collection:
    """Delete a portfolio (links only) or a sequence with all of its versions."""
    with storage.db.write() as conn:
        collection = writable_collection(conn, user, collection_id)
        if collection.kind is CollectionKind.SEQUENCE:
            for member in repo.list_members(conn, collection, None, 1_000_000):
                repo.remove_memberships(conn, member.artifact.id)
                repo.delete_files(conn, member.artifact.id)
                repo.update_artifact(conn, member.artifact.id,
                                     state=ArtifactState.DELETED.value)
        repo.delete_collection(conn, collection.id)
        audit.record(conn, user.username, "collection.delete",
                     f"{collection.entity}/{collection.project}/{collection.name}")
    return collection


def update_collection(storage: Storage, user: User, collection_id: int,
                      name: str | None = None, description: str | None = None) -> Collection:
    """Rename a collection or change its description."""
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = validate_artifact_name(name)
    if description is not None:
        values["description"] = description
    with storage.db.write() as conn:
        collection = writable_collection(conn, user, collection_id)
        if name is not None and name != collection.name:
            repo.require_member_free_name(conn, collection.project_id, name)
        if values:
            repo.update_collection(conn, collection_id, **values)
        updated = repo.get_collection(conn, collection_id)
    assert updated is not None
    return updated
