"""Changing an artifact collection as a whole: its type (``moveArtifactSequence``,
``collection.type = ...; collection.save()``: a sequence and all its versions take another
artifact type of the project, created when missing) and its tags
(``createArtifactCollectionTagAssignments`` / ``delete...``, ``collection.tags``)."""

from __future__ import annotations

import orjson
from sqlalchemy import update

from tracklet.domain.artifacts import Collection, CollectionKind, validate_type_name
from tracklet.domain.policy import Action, require
from tracklet.domain.records import User
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest.artifacts import validate_tags, writable_collection
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import artifacts as repo
from tracklet.storage.metadata.tables import artifacts


def move_sequence(storage: Storage, user: User, collection_id: int,
                  type_name: str) -> Collection:
    """Give the sequence ``collection_id`` and every version logged to it the type
    ``type_name``. A portfolio only links versions of other sequences, so it has no type of
    its own to change (W&B refuses it too)."""
    name = validate_type_name(type_name)
    with storage.db.write() as conn:
        collection = writable_collection(conn, user, collection_id)
        if collection.kind is not CollectionKind.SEQUENCE:
            raise InvalidInput("only an artifact sequence can change its type; "
                               "a portfolio takes the type of the versions it links")
        kind = repo.ensure_type(conn, collection.project_id, name)
        repo.update_collection(conn, collection_id, type_id=kind.id)
        conn.execute(update(artifacts).where(artifacts.c.sequence_id == collection_id)
                     .values(type_id=kind.id))
        moved = repo.get_collection(conn, collection_id)
    assert moved is not None
    return moved


def change_tags(storage: Storage, user: User, entity: str, project: str, name: str,
                add: tuple[str, ...] = (), delete: tuple[str, ...] = ()) -> Collection:
    """Add and remove tags of the collection ``entity/project/name`` (W&B's collection tag
    assignments); adding a tag it has, or removing one it lacks, changes nothing."""
    added = validate_tags(add)
    with storage.db.write() as conn:
        found = accounts.find_project(conn, entity, project)
        collection = None if found is None else repo.find_collection(conn, found.id, name)
        if collection is None:
            raise NotFound(f"artifact collection {entity}/{project}/{name} not found")
        require(user, Action.WRITE, collection.entity, collection.project,
                missing=f"artifact collection {entity}/{project}/{name} not found")
        drop = set(delete)
        tags = [t for t in collection.tags if t not in drop]
        tags += [t for t in added if t not in tags]
        validate_tags(tuple(tags))
        repo.update_collection(conn, collection.id, tags=orjson.dumps(tags).decode())
        changed = repo.get_collection(conn, collection.id)
    assert changed is not None
    return changed
