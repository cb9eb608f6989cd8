"""Artifact types, collections, versions, memberships, aliases, files and usage edges.

Functions take an open connection (a ``Database.read()`` or ``write()`` transaction) and
return records from :mod:`tracklet.domain.artifacts`. Reads called *live* hide versions that
were deleted or whose TTL has run out, so an expired artifact looks exactly like a deleted one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Select, and_, func, or_, select, update

from tracklet.domain.artifacts import (
    Alias,
    Artifact,
    ArtifactFile,
    ArtifactState,
    ArtifactType,
    Collection,
    CollectionKind,
    ManifestEntry,
    Membership,
    parse_version,
)
from tracklet.domain.records import Project
from tracklet.errors import Conflict, InvalidInput
from tracklet.storage.metadata.tables import (
    artifact_aliases,
    artifact_collections,
    artifact_files,
    artifact_memberships,
    artifact_multipart_uploads,
    artifact_types,
    artifacts,
    entities,
    projects,
)

# -- types --------------------------------------------------------------------------------------


def _type(row: Any) -> ArtifactType:
    return ArtifactType(**row._mapping)


def find_type(conn: Connection, project_id: int, name: str) -> ArtifactType | None:
    """The artifact type ``name`` of a project, or None."""
    row = conn.execute(select(artifact_types).where(
        artifact_types.c.project_id == project_id, artifact_types.c.name == name)).first()
    return _type(row) if row else None


def ensure_type(conn: Connection, project_id: int, name: str) -> ArtifactType:
    """The artifact type ``name``, created when missing."""
    found = find_type(conn, project_id, name)
    if found is not None:
        return found
    conn.execute(artifact_types.insert().values(project_id=project_id, name=name,
                                                created_at=time.time()))
    created = find_type(conn, project_id, name)
    assert created is not None
    return created


def list_types(conn: Connection, project_id: int, after_id: int | None,
               limit: int) -> list[ArtifactType]:
    """A project's artifact types in creation order, paged by id."""
    q = select(artifact_types).where(artifact_types.c.project_id == project_id)
    if after_id is not None:
        q = q.where(artifact_types.c.id > after_id)
    return [_type(r) for r in conn.execute(q.order_by(artifact_types.c.id).limit(limit))]


# -- collections --------------------------------------------------------------------------------


def _collection_select() -> Select[Any]:
    return (
        select(
            artifact_collections.c.id, artifact_collections.c.project_id,
            entities.c.name.label("entity"), projects.c.name.label("project"),
            artifact_collections.c.type_id, artifact_types.c.name.label("type_name"),
            artifact_collections.c.name, artifact_collections.c.kind,
            artifact_collections.c.description, artifact_collections.c.created_at,
            artifact_collections.c.updated_at, artifact_collections.c.tags,
        )
        .select_from(artifact_collections)
        .join(artifact_types, artifact_types.c.id == artifact_collections.c.type_id)
        .join(projects, projects.c.id == artifact_collections.c.project_id)
        .join(entities, entities.c.id == projects.c.entity_id)
    )


def _collection(row: Any) -> Collection:
    m = dict(row._mapping)
    m["kind"] = CollectionKind(m["kind"])
    m["tags"] = tuple(orjson.loads(m["tags"] or "[]"))
    return Collection(**m)


def get_collection(conn: Connection, collection_id: int) -> Collection | None:
    """The collection with this primary key, or None."""
    row = conn.execute(_collection_select().where(artifact_collections.c.id == collection_id)
                       ).first()
    return _collection(row) if row else None


def find_collection(conn: Connection, project_id: int, name: str) -> Collection | None:
    """The collection ``name`` (sequence or portfolio) of a project, or None."""
    row = conn.execute(_collection_select().where(
        artifact_collections.c.project_id == project_id, artifact_collections.c.name == name)
    ).first()
    return _collection(row) if row else None


def ensure_collection(conn: Connection, project: Project, name: str, type_name: str,
                      kind: CollectionKind, client_id: str | None = None) -> Collection:
    """The collection ``name``, created when missing; InvalidInput on a type or kind clash."""
    found = find_collection(conn, project.id, name)
    if found is not None:
        if found.type_name != type_name:
            raise InvalidInput(
                f"artifact collection {name!r} holds artifacts of type {found.type_name!r}, "
                f"not {type_name!r}")
        if found.kind is not kind:
            raise InvalidInput(f"{name!r} is an artifact {found.kind.value.lower()}, "
                               f"not a {kind.value.lower()}")
        return found
    art_type = ensure_type(conn, project.id, type_name)
    now = time.time()
    conn.execute(artifact_collections.insert().values(
        project_id=project.id, type_id=art_type.id, name=name, kind=kind.value,
        scoped_client_id=client_id, next_version=0, created_at=now, updated_at=now))
    created = find_collection(conn, project.id, name)
    assert created is not None
    return created


def list_collections(conn: Connection, project_id: int, type_id: int | None,
                     after_id: int | None, limit: int) -> list[Collection]:
    """A project's collections (optionally of one type), oldest first, paged by id."""
    q = _collection_select().where(artifact_collections.c.project_id == project_id)
    if type_id is not None:
        q = q.where(artifact_collections.c.type_id == type_id)
    if after_id is not None:
        q = q.where(artifact_collections.c.id > after_id)
    return [_collection(r) for r in conn.execute(q.order_by(artifact_collections.c.id)
                                                  .limit(limit))]


def count_collections(conn: Connection, project_id: int, type_id: int | None) -> int:
    """How many collections a project (or one of its types) has."""
    q = select(func.count()).select_from(artifact_collections).where(
        artifact_collections.c.project_id == project_id)
    if type_id is not None:
        q = q.where(artifact_collections.c.type_id == type_id)
    return int(conn.execute(q).scalar_one())


def collections_by_client_id(conn: Connection, client_id: str) -> list[Collection]:
    """The sequences registered under a client's sequence id (one per project at most)."""
    return [_collection(r) for r in conn.execute(_collection_select().where(
        artifact_collections.c.scoped_client_id == client_id
    ).order_by(artifact_collections.c.id))]


def update_collection(conn: Connection, collection_id: int, **values: Any) -> None:
    """Change a collection's name or description."""
    conn.execute(update(artifact_collections).where(artifact_collections.c.id == collection_id)
                 .values(updated_at=time.time(), **values))


def delete_collection(conn: Connection, collection_id: int) -> None:
    """Remove a collection with its memberships and aliases (artifacts are handled apart)."""
    conn.execute(artifact_aliases.delete().where(artifact_aliases.c.collection_id ==
                                                 collection_id))
    conn.execute(artifact_memberships.delete().where(
        artifact_memberships.c.collection_id == collection_id))
    conn.execute(artifact_collections.delete().where(artifact_collections.c.id ==
                                                     collection_id))


def next_version(conn: Connection, collection_id: int) -> int:
    """Reserve the collection's next version index (never reused, even after deletes)."""
    current = conn.execute(select(artifact_collections.c.next_version).where(
        artifact_collections.c.id == collection_id)).scalar_one()
    conn.execute(update(artifact_collections).where(artifact_collections.c.id == collection_id)
                 .values(next_version=int(current) + 1, updated_at=time.time()))
    return int(current)


# -- artifacts ----------------------------------------------------------------------------------

_seq = artifact_collections.alias("seq")
_seq_type = artifact_types.alias("seq_type")


def artifact_select() -> Select[Any]:
    return (
        select(
            artifacts.c.id, _seq.c.project_id, entities.c.name.label("entity"),
            projects.c.name.label("project"), artifacts.c.sequence_id,
            _seq.c.name.label("sequence_name"), _seq_type.c.name.label("type_name"),
            artifacts.c.version_index, artifacts.c.digest, artifacts.c.digest_algorithm,
            artifacts.c.state, artifacts.c.description, artifacts.c.metadata, artifacts.c.tags,
            artifacts.c.size, artifacts.c.file_count, artifacts.c.history_step,
            artifacts.c.ttl_seconds, artifacts.c.ttl_inherited, artifacts.c.created_by_run_id,
            artifacts.c.scoped_client_id.label("client_id"), artifacts.c.manifest_blob_key,
            artifacts.c.created_at, artifacts.c.updated_at, artifacts.c.manifest_type,
            artifacts.c.base_artifact_id, artifacts.c.distributed_id,
        )
        .select_from(artifacts)
        .join(_seq, _seq.c.id == artifacts.c.sequence_id)
        .join(_seq_type, _seq_type.c.id == artifacts.c.type_id)
        .join(projects, projects.c.id == _seq.c.project_id)
        .join(entities, entities.c.id == projects.c.entity_id)
    )


def to_artifact(row: Any) -> Artifact:
    m = {k: v for k, v in row._mapping.items() if not k.startswith("m_")}
    m["state"] = ArtifactState(m["state"])
    m["tags"] = tuple(orjson.loads(m["tags"] or "[]"))
    m["ttl_inherited"] = bool(m["ttl_inherited"])
    return Artifact(**m)


def live_clause() -> Any:
    """Committed and not past its TTL."""
    return and_(
        artifacts.c.state == ArtifactState.COMMITTED.value,
        or_(artifacts.c.ttl_seconds.is_(None), artifacts.c.ttl_seconds <= 0,
            artifacts.c.committed_at + artifacts.c.ttl_seconds > time.time()),
    )


def get_artifact(conn: Connection, artifact_id: int) -> Artifact | None:
    """The artifact with this primary key in any state, or None."""
    row = conn.execute(artifact_select().where(artifacts.c.id == artifact_id)).first()
    return to_artifact(row) if row else None


def is_live(conn: Connection, artifact_id: int) -> bool:
    """Whether the artifact is committed and not expired."""
    return conn.execute(select(artifacts.c.id).where(artifacts.c.id == artifact_id, live_clause())
                        ).first() is not None


def artifacts_by_client_id(conn: Connection, client_id: str) -> list[Artifact]:
    """The artifacts created with this client id, oldest first.

    Client ids are unique within a sequence only: a caller picks among these the ones its
    entity holds (or it may read), so another tenant's id finds nothing.
    """
    return [to_artifact(r) for r in conn.execute(
        artifact_select().where(artifacts.c.scoped_client_id == client_id)
        .order_by(artifacts.c.id))]


def committed_by_digest(conn: Connection, sequence_id: int, digest: str) -> Artifact | None:
    """The newest live version of a sequence with this content digest, or None."""
    row = conn.execute(artifact_select().where(
        artifacts.c.sequence_id == sequence_id, artifacts.c.digest == digest, live_clause())
        .order_by(artifacts.c.version_index.desc())).first()
    return to_artifact(row) if row else None


def pending_distributed(conn: Connection, sequence_id: int, distributed_id: str
                        ) -> Artifact | None:
    """The pending version that runs of one distributed artifact are adding files to."""
    row = conn.execute(artifact_select().where(
        artifacts.c.sequence_id == sequence_id, artifacts.c.distributed_id == distributed_id,
        artifacts.c.state == ArtifactState.PENDING.value).order_by(artifacts.c.id)).first()
    return to_artifact(row) if row else None


def insert_artifact(conn: Connection, **values: Any) -> int:
    """Insert a pending artifact row; returns its id."""
    now = time.time()
    pk = conn.execute(artifacts.insert().values(created_at=now, updated_at=now, **values)
                      ).inserted_primary_key
    assert pk is not None
    return int(pk[0])


def update_artifact(conn: Connection, artifact_id: int, **values: Any) -> None:
    """Set columns of an artifact row (``updated_at`` follows)."""
    conn.execute(update(artifacts).where(artifacts.c.id == artifact_id)
                 .values(updated_at=time.time(), **values))


def swap_manifest(conn: Connection, artifact_id: int, key: str, expected: str | None) -> bool:
    """Set a pending artifact's manifest blob, atomically; with ``expected`` only while the
    current one is that ("" for none). True when the row changed."""
    q = update(artifacts).where(artifacts.c.id == artifact_id,
                                artifacts.c.state == ArtifactState.PENDING.value)
    if expected is not None:
        q = q.where(func.coalesce(artifacts.c.manifest_blob_key, "") == expected)
    return conn.execute(q.values(manifest_blob_key=key, updated_at=time.time())).rowcount == 1


def pending_aliases(conn: Connection, artifact_id: int) -> list[str]:
    """Aliases asked for at creation, applied when the artifact is committed."""
    text = conn.execute(select(artifacts.c.pending_aliases).where(
        artifacts.c.id == artifact_id)).scalar_one()
    value = orjson.loads(text or "[]")
    return [a for a in value if isinstance(a, str)]


def add_pending_aliases(conn: Connection, artifact_id: int, aliases: Sequence[str]) -> None:
    """Add to the aliases a pending artifact will get when it is committed."""
    current = pending_aliases(conn, artifact_id)
    merged = current + [a for a in aliases if a not in current]
    if merged != current:
        update_artifact(conn, artifact_id, pending_aliases=orjson.dumps(merged).decode())


def latest_live(conn: Connection, collection_id: int) -> Artifact | None:
    """The live member of a collection with the highest version index."""
    row = conn.execute(artifact_select()
                       .join(artifact_memberships,
                             artifact_memberships.c.artifact_id == artifacts.c.id)
                       .where(artifact_memberships.c.collection_id == collection_id, live_clause())
                       .order_by(artifact_memberships.c.version_index.desc())).first()
    return to_artifact(row) if row else None


# -- memberships and aliases --------------------------------------------------------------------


def add_membership(conn: Connection, collection_id: int, artifact_id: int,
                   version_index: int) -> None:
    """Make an artifact version ``version_index`` of a collection."""
    conn.execute(artifact_memberships.insert().values(
        collection_id=collection_id, artifact_id=artifact_id, version_index=version_index,
        created_at=time.time()))


def membership_version(conn: Connection, collection_id: int, artifact_id: int) -> int | None:
    """The version index of an artifact in a collection, or None if it is not a member."""
    value = conn.execute(select(artifact_memberships.c.version_index).where(
        artifact_memberships.c.collection_id == collection_id,
        artifact_memberships.c.artifact_id == artifact_id)).scalar_one_or_none()
    return None if value is None else int(value)


def remove_memberships(conn: Connection, artifact_id: int,
                       collection_id: int | None = None) -> None:
    """Drop an artifact's memberships and aliases (in one collection, or everywhere)."""
    for table in (artifact_aliases, artifact_memberships):
        q = table.delete().where(table.c.artifact_id == artifact_id)
        if collection_id is not None:
            q = q.where(table.c.collection_id == collection_id)
        conn.execute(q)


def set_alias(conn: Connection, collection_id: int, artifact_id: int, alias: str) -> None:
    """Point ``alias`` of a collection at an artifact, moving it from any other version."""
    existing = conn.execute(select(artifact_aliases.c.id, artifact_aliases.c.artifact_id).where(
        artifact_aliases.c.collection_id == collection_id, artifact_aliases.c.alias == alias)
    ).first()
    if existing is None:
        conn.execute(artifact_aliases.insert().values(
            collection_id=collection_id, artifact_id=artifact_id, alias=alias,
            created_at=time.time()))
    elif existing.artifact_id != artifact_id:
        conn.execute(update(artifact_aliases).where(artifact_aliases.c.id == existing.id)
                     .values(artifact_id=artifact_id, created_at=time.time()))


def delete_alias(conn: Connection, collection_id: int, artifact_id: int, alias: str) -> None:
    """Remove ``alias`` from an artifact in a collection (no-op when it is elsewhere)."""
    conn.execute(artifact_aliases.delete().where(
        artifact_aliases.c.collection_id == collection_id,
        artifact_aliases.c.artifact_id == artifact_id, artifact_aliases.c.alias == alias))


def _alias(row: Any) -> Alias:
    return Alias(id=row.id, collection_id=row.collection_id, artifact_id=row.artifact_id,
                 alias=row.alias)


def aliases_of(conn: Connection, artifact_ids: Iterable[int],
               collection_id: int | None = None) -> dict[int, list[Alias]]:
    """Aliases per artifact id (all collections, or just one), oldest first."""
    ids = list(artifact_ids)
    out: dict[int, list[Alias]] = {i: [] for i in ids}
    if not ids:
        return out
    q = select(artifact_aliases).where(artifact_aliases.c.artifact_id.in_(ids))
    if collection_id is not None:
        q = q.where(artifact_aliases.c.collection_id == collection_id)
    for row in conn.execute(q.order_by(artifact_aliases.c.id)):
        out[row.artifact_id].append(_alias(row))
    return out


def collection_aliases(conn: Connection, collection_id: int, after_id: int | None,
                       limit: int) -> list[Alias]:
    """The aliases defined in a collection, paged by id."""
    q = select(artifact_aliases).where(artifact_aliases.c.collection_id == collection_id)
    if after_id is not None:
        q = q.where(artifact_aliases.c.id > after_id)
    return [_alias(r) for r in conn.execute(q.order_by(artifact_aliases.c.id).limit(limit))]


def _members_select() -> Select[Any]:
    return (artifact_select().add_columns(
        artifact_memberships.c.collection_id.label("m_collection_id"),
        artifact_memberships.c.version_index.label("m_version"),
        artifact_memberships.c.created_at.label("m_created_at"))
        .join(artifact_memberships, artifact_memberships.c.artifact_id == artifacts.c.id))


def _memberships(conn: Connection, rows: Sequence[Any],
                 collections: dict[int, Collection] | None = None) -> list[Membership]:
    cache = dict(collections or {})
    aliases = aliases_of(conn, [r.id for r in rows])
    out = []
    for row in rows:
        cid = int(row.m_collection_id)
        if cid not in cache:
            found = get_collection(conn, cid)
            assert found is not None
            cache[cid] = found
        artifact = to_artifact(row)
        out.append(Membership(
            collection=cache[cid], artifact=artifact, version_index=int(row.m_version),
            created_at=float(row.m_created_at),
            aliases=tuple(a for a in aliases[artifact.id] if a.collection_id == cid)))
    return out


def find_membership(conn: Connection, collection: Collection, alias: str) -> Membership | None:
    """The live member of a collection named by ``vN``, an alias or a content digest."""
    q = _members_select().where(artifact_memberships.c.collection_id == collection.id,
                                live_clause())
    version = parse_version(alias)
    if version is not None:
        q = q.where(artifact_memberships.c.version_index == version)
    else:
        aliased = select(artifact_aliases.c.artifact_id).where(
            artifact_aliases.c.collection_id == collection.id, artifact_aliases.c.alias == alias)
        q = q.where(or_(artifacts.c.id.in_(aliased), artifacts.c.digest == alias))
    rows = conn.execute(q.order_by(artifact_memberships.c.version_index.desc()).limit(1)).all()
    found = _memberships(conn, rows, {collection.id: collection})
    return found[0] if found else None


def membership_of(conn: Connection, collection: Collection, artifact_id: int
                  ) -> Membership | None:
    """An artifact's membership in a collection (live or not), or None."""
    rows = conn.execute(_members_select().where(
        artifact_memberships.c.collection_id == collection.id,
        artifacts.c.id == artifact_id)).all()
    found = _memberships(conn, rows, {collection.id: collection})
    return found[0] if found else None


def memberships_of_artifact(conn: Connection, artifact_id: int) -> list[Membership]:
    """Every collection an artifact belongs to: its sequence first, then portfolios."""
    rows = conn.execute(_members_select().where(artifacts.c.id == artifact_id)
                        .order_by(artifact_memberships.c.created_at)).all()
    return _memberships(conn, rows)


def list_members(conn: Connection, collection: Collection, after_version: int | None,
                 limit: int, newest_first: bool = True) -> list[Membership]:
    """A collection's live members, newest first by default, paged by version index."""
    idx = artifact_memberships.c.version_index
    q = _members_select().where(artifact_memberships.c.collection_id == collection.id,
                                live_clause())
    if after_version is not None:
        q = q.where(idx < after_version if newest_first else idx > after_version)
    q = q.order_by(idx.desc() if newest_first else idx).limit(limit)
    return _memberships(conn, conn.execute(q).all(), {collection.id: collection})


def count_members(conn: Connection, collection_id: int) -> int:
    """How many live members a collection has."""
    return int(conn.execute(
        select(func.count()).select_from(artifacts)
        .join(artifact_memberships, artifact_memberships.c.artifact_id == artifacts.c.id)
        .where(artifact_memberships.c.collection_id == collection_id, live_clause())).scalar_one())


# -- files --------------------------------------------------------------------------------------


def insert_files(conn: Connection, artifact_id: int,
                 entries: Sequence[tuple[ManifestEntry, str | None]]) -> None:
    """Record a committed artifact's files: (manifest entry, blob key or None for refs)."""
    rows = [{
        "artifact_id": artifact_id, "path": e.path, "digest": e.digest, "size": e.size,
        "blob_key": key, "ref": e.ref, "birth_artifact_id": e.birth_artifact_id,
        "extra": e.extra,
    } for e, key in entries]
    for start in range(0, len(rows), 500):
        conn.execute(artifact_files.insert(), rows[start:start + 500])


def list_files(conn: Connection, artifact_id: int, names: Sequence[str] | None,
               after: str | None, limit: int) -> list[ArtifactFile]:
    """An artifact's files ordered by path, optionally only ``names``, paged by path."""
    q = select(artifact_files).where(artifact_files.c.artifact_id == artifact_id)
    if names:
        q = q.where(artifact_files.c.path.in_(list(names)))
    if after is not None:
        q = q.where(artifact_files.c.path > after)
    return [ArtifactFile(**r._mapping)
            for r in conn.execute(q.order_by(artifact_files.c.path).limit(limit))]


def count_files(conn: Connection, artifact_id: int, names: Sequence[str] | None = None) -> int:
    """Number of files of an artifact (or of those among ``names``)."""
    q = select(func.count()).select_from(artifact_files).where(
        artifact_files.c.artifact_id == artifact_id)
    if names:
        q = q.where(artifact_files.c.path.in_(list(names)))
    return int(conn.execute(q).scalar_one())


def delete_files(conn: Connection, artifact_id: int) -> None:
    """Forget the file rows of an artifact (blobs are shared by content and kept)."""
    conn.execute(artifact_files.delete().where(artifact_files.c.artifact_id == artifact_id))


def blob_in_project(conn: Connection, project_id: int, digest_b64: str) -> str | None:
    """The blob key of a file with this digest in some live artifact of a project."""
    return conn.execute(
        select(artifact_files.c.blob_key)
        .join(artifacts, artifacts.c.id == artifact_files.c.artifact_id)
        .join(artifact_collections, artifact_collections.c.id == artifacts.c.sequence_id)
        .where(artifact_files.c.digest == digest_b64, artifact_files.c.blob_key.is_not(None),
               artifact_collections.c.project_id == project_id, live_clause())
        .limit(1)).scalar_one_or_none()


def blob_in_entity(conn: Connection, entity_id: int, digest_b64: str) -> str | None:
    """The blob key of a file with this digest in some live artifact of an entity."""
    return conn.execute(
        select(artifact_files.c.blob_key)
        .join(artifacts, artifacts.c.id == artifact_files.c.artifact_id)
        .join(artifact_collections, artifact_collections.c.id == artifacts.c.sequence_id)
        .join(projects, projects.c.id == artifact_collections.c.project_id)
        .where(artifact_files.c.digest == digest_b64, artifact_files.c.blob_key.is_not(None),
               projects.c.entity_id == entity_id, live_clause())
        .limit(1)).scalar_one_or_none()


# -- multipart uploads -------------------------------------------------------------------------


@dataclass(frozen=True)
class MultipartUpload:
    """A multipart upload in progress: the whole file's MD5 and how many parts it has."""

    upload_id: str
    artifact_id: int
    md5_hex: str
    part_count: int


def start_multipart(conn: Connection, upload_id: str, artifact_id: int, md5_hex: str,
                    part_count: int) -> None:
    """Register a multipart upload."""
    conn.execute(artifact_multipart_uploads.insert().values(
        upload_id=upload_id, artifact_id=artifact_id, md5_hex=md5_hex, part_count=part_count,
        created_at=time.time()))


def get_multipart(conn: Connection, upload_id: str) -> MultipartUpload | None:
    """A registered multipart upload, or None."""
    row = conn.execute(select(artifact_multipart_uploads).where(
        artifact_multipart_uploads.c.upload_id == upload_id)).first()
    if row is None:
        return None
    return MultipartUpload(upload_id=row.upload_id, artifact_id=int(row.artifact_id),
                           md5_hex=row.md5_hex, part_count=int(row.part_count))


def finish_multipart(conn: Connection, upload_id: str) -> None:
    """Forget a completed multipart upload."""
    conn.execute(artifact_multipart_uploads.delete().where(
        artifact_multipart_uploads.c.upload_id == upload_id))


def require_member_free_name(conn: Connection, project_id: int, name: str) -> None:
    """Conflict when a collection called ``name`` already exists in the project."""
    if find_collection(conn, project_id, name) is not None:
        raise Conflict(f"an artifact collection named {name!r} already exists")
