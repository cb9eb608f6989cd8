"""Reading artifacts: the Artifact, collection, membership, type and alias objects.

Responses here are validated by the SDK's pydantic models (PROTOCOL §1.4, §5.12), so every
selected field resolves to a value of the right shape, never a missing key.
"""

from __future__ import annotations

import base64
from typing import Any

from ariadne import InterfaceType, ObjectType, QueryType
from ariadne.types import SchemaBindable
from graphql import GraphQLSchema

from tracklet.domain.artifacts import (
    TTL_DISABLED,
    Alias,
    Artifact,
    ArtifactFile,
    ArtifactState,
    ArtifactType,
    Collection,
    CollectionKind,
    Membership,
    commit_hash,
    split_name,
)
from tracklet.domain.policy import Action, can, require
from tracklet.domain.records import Project, Run
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest.artifacts import can_read_artifact
from tracklet.ingest.uploads import guess_mimetype
from tracklet.server.graphql.context import GraphQLContext, Info, context_of
from tracklet.server.graphql.ids import decode_id, encode_id
from tracklet.server.urls import artifact_file_download_url, manifest_download_url
from tracklet.storage.metadata import artifact_lineage as lineage
from tracklet.storage.metadata import artifacts as repo

query = QueryType()
project_type = ObjectType("Project")
run_type = ObjectType("Run")
artifact_type = ObjectType("Artifact")
membership_type = ObjectType("ArtifactCollectionMembership")
collection_iface = InterfaceType("ArtifactCollection")
sequence_type = ObjectType("ArtifactSequence")
artifact_type_type = ObjectType("ArtifactType")
alias_type = ObjectType("ArtifactAlias")

_MAX_PAGE = 10_000


def page_size(first: int | None, default: int = 50) -> int:
    """A page size between 1 and 10,000."""
    return min(max(first or default, 1), _MAX_PAGE)


def int_cursor(after: str | None) -> int | None:
    """An integer cursor, or None for the first page."""
    if not after:
        return None
    if not after.lstrip("-").isdigit():
        raise InvalidInput(f"invalid cursor {after!r}")
    return int(after)


def connection(nodes: list[Any], cursors: list[str], more: bool,
               total: int | None = None) -> dict[str, Any]:
    """A relay connection dict with ``__typename``-carrying page info."""
    return {
        "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
        "pageInfo": {"endCursor": cursors[-1] if cursors else None, "hasNextPage": more,
                     "startCursor": cursors[0] if cursors else None, "hasPreviousPage": False},
        "totalCount": len(nodes) if total is None else total,
    }


def artifact_id(value: Any) -> int:
    """The primary key inside an Artifact id."""
    if not isinstance(value, str):
        raise InvalidInput("artifact id must be a string")
    return decode_id("Artifact", value)


def collection_id(value: Any) -> int:
    """The primary key inside an ArtifactSequence/ArtifactPortfolio id."""
    if not isinstance(value, str):
        raise InvalidInput("artifact collection id must be a string")
    for kind in CollectionKind:
        try:
            return decode_id(kind.typename, value)
        except InvalidInput:
            continue
    raise InvalidInput(f"invalid artifact collection id {value!r}")


def collection_of(ctx: GraphQLContext, cid: int) -> Collection | None:
    """A collection by id, read once per request with the others the request will need."""
    return ctx.loaders.collections.load(cid)


def project_of(ctx: GraphQLContext, project_id: int) -> Project:
    """A project by id, read once per request with the others the request will need."""
    found = ctx.loaders.projects.load(project_id)
    if found is None:
        raise NotFound(f"project {project_id} not found")
    return found


def visible_artifact(ctx: GraphQLContext, pk: int) -> Artifact | None:
    """An artifact the caller may read, or None (deleted or expired ones included as None)."""
    with ctx.storage.db.read() as conn:
        artifact = repo.get_artifact(conn, pk)
        if artifact is None or artifact.state is ArtifactState.DELETED:
            return None
        if artifact.state is ArtifactState.COMMITTED and not repo.is_live(conn, pk):
            return None
        # One the caller may not read is None, as a missing one.
        return artifact if can_read_artifact(conn, ctx.user, artifact) else None


# -- queries ------------------------------------------------------------------------------------


@query.field("artifact")
def resolve_artifact(_: Any, info: Info, id: str | None = None) -> Artifact | None:  # noqa: A002
    return visible_artifact(context_of(info), artifact_id(id)) if id else None


@query.field("artifactCollection")
def resolve_artifact_collection(_: Any, info: Info, id: str | None = None  # noqa: A002
                                ) -> Collection | None:
    if not id:
        return None
    ctx = context_of(info)
    found = collection_of(ctx, collection_id(id))
    if found is not None and not can(ctx.user, Action.READ, found.entity, found.project):
        return None
    return found


# -- Project ------------------------------------------------------------------------------------


def _named_collection(ctx: GraphQLContext, project: Project, name: str) -> Collection | None:
    require(ctx.user, Action.READ, project.entity, project.name)
    with ctx.storage.db.read() as conn:
        return repo.find_collection(conn, project.id, name)


@project_type.field("artifactCollectionMembership")
def resolve_project_membership(project: Project, info: Info, name: str | None = None
                               ) -> Membership | None:
    collection_name, alias = split_name(name)
    ctx = context_of(info)
    collection = _named_collection(ctx, project, collection_name)
    if collection is None:
        return None
    with ctx.storage.db.read() as conn:
        return repo.find_membership(conn, collection, alias)


@project_type.field("artifact")
def resolve_project_artifact(project: Project, info: Info, name: str | None = None,
                             enable_tracking: bool | None = None) -> Artifact | None:
    # enableTracking (SDK 0.2x) asks W&B to count the read for its usage analytics; a use
    # that matters is recorded by useArtifact.
    membership = resolve_project_membership(project, info, name)
    return membership.artifact if membership else None


@project_type.field("artifactCollection")
def resolve_project_collection(project: Project, info: Info, name: str | None = None
                               ) -> Collection | None:
    return _named_collection(context_of(info), project, name) if name else None


@project_type.field("artifactCollections")
def resolve_project_collections(project: Project, info: Info, after: str | None = None,
                                first: int | None = None, **_: Any) -> dict[str, Any]:
    return _collections(context_of(info), project, None, after, first)


def _collections(ctx: GraphQLContext, project: Project, type_id: int | None,
                 after: str | None, first: int | None) -> dict[str, Any]:
    require(ctx.user, Action.READ, project.entity, project.name)
    limit = page_size(first)
    with ctx.storage.db.read() as conn:
        rows = repo.list_collections(conn, project.id, type_id, int_cursor(after), limit + 1)
        total = repo.count_collections(conn, project.id, type_id)
    page = rows[:limit]
    return connection(page, [str(c.id) for c in page], len(rows) > limit, total)


@project_type.field("artifactType")
def resolve_project_artifact_type(project: Project, info: Info, name: str | None = None
                                  ) -> ArtifactType | None:
    ctx = context_of(info)
    require(ctx.user, Action.READ, project.entity, project.name)
    if not name:
        return None
    with ctx.storage.db.read() as conn:
        return repo.find_type(conn, project.id, name)


@project_type.field("artifactTypes")
def resolve_project_artifact_types(project: Project, info: Info, after: str | None = None,
                                   first: int | None = None, **_: Any) -> dict[str, Any]:
    ctx = context_of(info)
    require(ctx.user, Action.READ, project.entity, project.name)
    limit = page_size(first)
    with ctx.storage.db.read() as conn:
        rows = repo.list_types(conn, project.id, int_cursor(after), limit + 1)
    page = rows[:limit]
    return connection(page, [str(t.id) for t in page], len(rows) > limit)


# -- Run lineage --------------------------------------------------------------------------------


def _run_artifacts(ctx: GraphQLContext, run: Run, after: str | None, first: int | None,
                   inputs: bool) -> dict[str, Any]:
    require(ctx.user, Action.READ, run.entity, run.project)
    limit, offset = page_size(first), int_cursor(after) or 0
    with ctx.storage.db.read() as conn:
        if inputs:
            rows = lineage.run_inputs(conn, run.id, offset, limit + 1)
            total = lineage.count_run_inputs(conn, run.id)
        else:
            rows = lineage.run_outputs(conn, run.id, offset, limit + 1)
            total = lineage.count_run_outputs(conn, run.id)
    page = rows[:limit]
    ctx.loaders.note_artifacts(page)
    cursors = [str(offset + i + 1) for i in range(len(page))]
    return connection(page, cursors, len(rows) > limit, total)


@run_type.field("inputArtifacts")
def resolve_run_inputs(run: Run, info: Info, after: str | None = None,
                       first: int | None = None) -> dict[str, Any]:
    return _run_artifacts(context_of(info), run, after, first, inputs=True)


@run_type.field("outputArtifacts")
def resolve_run_outputs(run: Run, info: Info, after: str | None = None,
                        first: int | None = None) -> dict[str, Any]:
    return _run_artifacts(context_of(info), run, after, first, inputs=False)


# -- Artifact -----------------------------------------------------------------------------------


@artifact_type.field("id")
def resolve_artifact_gid(artifact: Artifact, *_: Any) -> str:
    return encode_id("Artifact", artifact.id)


@artifact_type.field("artifactSequence")
def resolve_artifact_sequence(artifact: Artifact, info: Info) -> Collection | None:
    return collection_of(context_of(info), artifact.sequence_id)


@artifact_type.field("artifactType")
def resolve_artifact_artifact_type(artifact: Artifact, info: Info) -> ArtifactType | None:
    return context_of(info).loaders.types.load((artifact.project_id, artifact.type_name))


@artifact_type.field("state")
def resolve_artifact_state(artifact: Artifact, *_: Any) -> str:
    return artifact.state.value


@artifact_type.field("ttlDurationSeconds")
def resolve_artifact_ttl(artifact: Artifact, *_: Any) -> int:
    if artifact.ttl_inherited or artifact.ttl_seconds is None:
        return TTL_DISABLED
    return artifact.ttl_seconds


@artifact_type.field("ttlIsInherited")
def resolve_artifact_ttl_inherited(artifact: Artifact, *_: Any) -> bool:
    return artifact.ttl_inherited


@artifact_type.field("tags")
def resolve_artifact_tags(artifact: Artifact, *_: Any) -> list[dict[str, str]]:
    return [tag_node(t) for t in artifact.tags]


def tag_node(name: str) -> dict[str, str]:
    """A Tag object for a tag name."""
    # Tags carry no category here; SDK 0.19 asks for one (tagCategoryName).
    return {"__typename": "Tag", "id": base64.b64encode(f"Tag:{name}".encode()).decode(),
            "name": name, "tagCategoryName": ""}


@artifact_type.field("digestAlgorithm")
def resolve_artifact_digest_algorithm(artifact: Artifact, *_: Any) -> str:
    return artifact.digest_algorithm


@artifact_type.field("commitHash")
def resolve_artifact_commit_hash(artifact: Artifact, *_: Any) -> str | None:
    return commit_hash(artifact)


# An artifact the caller may read can be used by runs, and linked into portfolios, of
# entities the caller may not read: those runs, aliases and memberships are left out.


@artifact_type.field("aliases")
def resolve_artifact_aliases(artifact: Artifact, info: Info) -> list[Alias]:
    ctx = context_of(info)
    aliases = ctx.loaders.aliases.load(artifact.id)
    collections = ctx.loaders.collections.load_many(a.collection_id for a in aliases)
    return [a for a, c in zip(aliases, collections, strict=True)
            if c is not None and can(ctx.user, Action.READ, c.entity, c.project)]


@artifact_type.field("createdBy")
def resolve_artifact_created_by(artifact: Artifact, info: Info) -> Run | None:
    if artifact.created_by_run_id is None:
        return None
    ctx = context_of(info)
    run = ctx.loaders.runs.load(artifact.created_by_run_id)
    return run if run is not None and can(ctx.user, Action.READ, run.entity, run.project) \
        else None


@artifact_type.field("usedBy")
def resolve_artifact_used_by(artifact: Artifact, info: Info, **_: Any) -> dict[str, Any]:
    ctx = context_of(info)
    found = ctx.loaders.runs.load_many(ctx.loaders.used_by.load(artifact.id))
    runs = [r for r in found
            if r is not None and can(ctx.user, Action.READ, r.entity, r.project)]
    return connection(runs, [str(r.id) for r in runs], False)


@artifact_type.field("artifactMemberships")
def resolve_artifact_memberships(artifact: Artifact, info: Info, **_: Any) -> dict[str, Any]:
    ctx = context_of(info)
    members = [m for m in ctx.loaders.memberships_of(artifact.id)
               if can(ctx.user, Action.READ, m.collection.entity, m.collection.project)]
    return connection(members, [str(m.collection.id) for m in members], False)


@artifact_type.field("currentManifest")
def resolve_artifact_manifest(artifact: Artifact, info: Info) -> dict[str, Any] | None:
    if artifact.manifest_blob_key is None:
        return None
    ctx = context_of(info)
    url = manifest_download_url(ctx.storage, ctx.settings, ctx.base_url, artifact.id,
                                artifact.manifest_blob_key)
    return {"id": encode_id("ArtifactManifest", artifact.id), "file": {
        "id": encode_id("ArtifactManifestFile", artifact.id), "name": "wandb_manifest.json",
        "displayName": "wandb_manifest.json", "directUrl": url, "url": url,
        "sizeBytes": 0, "mimetype": "application/json", "uploadHeaders": [], "uploadUrl": None,
        "storagePath": artifact.manifest_blob_key, "digest": None, "md5": None,
        "updatedAt": artifact.updated_at}}


@artifact_type.field("filesByManifestEntries")
def resolve_artifact_files_by_entries(artifact: Artifact, info: Info,
                                      entries: list[dict[str, Any]] | None = None,
                                      **_: Any) -> dict[str, Any]:
    names = [str(e.get("name")) for e in entries or []][:_MAX_PAGE]
    ctx = context_of(info)
    files = ctx.loaders.files(names).load(artifact.id)
    nodes = [file_node(ctx, artifact, files[n]) for n in names if n in files]
    return connection(nodes, [n["name"] for n in nodes], False)


@artifact_type.field("files")
def resolve_artifact_files(artifact: Artifact, info: Info, after: str | None = None,
                           first: int | None = None, names: list[str] | None = None
                           ) -> dict[str, Any]:
    # SDK 0.19 to 0.2x page download URLs here (ArtifactFileURLs) when the server does not
    # announce ARTIFACT_COLLECTION_MEMBERSHIP_FILES.
    return files_page(context_of(info), artifact, after, first, names)


def file_node(ctx: GraphQLContext, artifact: Artifact, f: ArtifactFile) -> dict[str, Any]:
    """A File object (plain dict) for one artifact file; references point at themselves."""
    if f.blob_key is not None:
        url = artifact_file_download_url(ctx.storage, ctx.settings, ctx.base_url, artifact.id,
                                         f.path, f.blob_key)
    else:
        url = f.ref or ""
    return {
        "__typename": "File", "id": encode_id("ArtifactFile", artifact.id) + ":" + f.path,
        "name": f.path, "displayName": f.path, "url": url, "directUrl": url,
        "sizeBytes": f.size, "storagePath": f.blob_key, "mimetype": guess_mimetype(f.path),
        "updatedAt": artifact.updated_at, "digest": f.digest,
        "md5": None if f.ref else f.digest, "uploadUrl": None, "uploadHeaders": [],
        "uploadMultipartUrls": None, "artifact": artifact,
    }


# -- memberships --------------------------------------------------------------------------------


@membership_type.field("id")
def resolve_membership_id(m: Membership, *_: Any) -> str:
    raw = f"ArtifactCollectionMembership:{m.collection.id}:{m.artifact.id}"
    return base64.b64encode(raw.encode()).decode()


@membership_type.field("artifactCollection")
def resolve_membership_collection(m: Membership, *_: Any) -> Collection:
    return m.collection


@membership_type.field("files")
def resolve_membership_files(m: Membership, info: Info, after: str | None = None,
                             first: int | None = None, names: list[str] | None = None
                             ) -> dict[str, Any]:
    return files_page(context_of(info), m.artifact, after, first, names)


def files_page(ctx: GraphQLContext, artifact: Artifact, after: str | None, first: int | None,
               names: list[str] | None) -> dict[str, Any]:
    """One page of an artifact's files by path, as a FileConnection."""
    limit = page_size(first)
    with ctx.storage.db.read() as conn:
        rows = repo.list_files(conn, artifact.id, names or None, after, limit + 1)
        total = repo.count_files(conn, artifact.id, names or None)
    page = rows[:limit]
    nodes = [file_node(ctx, artifact, f) for f in page]
    return connection(nodes, [f.path for f in page], len(rows) > limit, total)


# -- collections --------------------------------------------------------------------------------


@collection_iface.type_resolver
def resolve_collection_type(obj: Any, *_: Any) -> str:
    assert isinstance(obj, Collection)
    return obj.kind.typename


@collection_iface.field("id")
def resolve_collection_gid(c: Collection, *_: Any) -> str:
    return encode_id(c.kind.typename, c.id)


@collection_iface.field("project")
def resolve_collection_project(c: Collection, info: Info) -> Project:
    return project_of(context_of(info), c.project_id)


@collection_iface.field("defaultArtifactType")
def resolve_collection_default_type(c: Collection, *_: Any) -> dict[str, str]:
    return {"name": c.type_name}


@collection_iface.field("state")
def resolve_collection_state(*_: Any) -> str:
    return "READY"


@collection_iface.field("tags")
def resolve_collection_tags(c: Collection, *_: Any, **__: Any) -> dict[str, Any]:
    return {"edges": [{"node": tag_node(t)} for t in c.tags]}


@collection_iface.field("artifactMembership")
def resolve_collection_membership(c: Collection, info: Info, alias_name: str | None = None
                                  ) -> Membership | None:
    with context_of(info).storage.db.read() as conn:
        return repo.find_membership(conn, c, alias_name or "latest")


@collection_iface.field("artifacts")
def resolve_collection_artifacts(c: Collection, info: Info, after: str | None = None,
                                 first: int | None = None, order: str | None = None,
                                 **_: Any) -> dict[str, Any]:
    limit = page_size(first)
    newest_first = not (order or "").lstrip().startswith("+")
    ctx = context_of(info)
    with ctx.storage.db.read() as conn:
        rows = repo.list_members(conn, c, int_cursor(after), limit + 1, newest_first)
        total = repo.count_members(conn, c.id)
    page = rows[:limit]
    ctx.loaders.note_artifacts(m.artifact for m in page)
    out = connection([m.artifact for m in page], [str(m.version_index) for m in page],
                     len(rows) > limit, total)
    for edge, m in zip(out["edges"], page, strict=True):
        edge["version"] = f"v{m.version_index}"
    return out


@collection_iface.field("aliases")
def resolve_collection_aliases(c: Collection, info: Info, after: str | None = None,
                               first: int | None = None) -> dict[str, Any]:
    limit = page_size(first, 1000)
    with context_of(info).storage.db.read() as conn:
        rows = repo.collection_aliases(conn, c.id, int_cursor(after), limit + 1)
    page = rows[:limit]
    return connection(page, [str(a.id) for a in page], len(rows) > limit)


@sequence_type.field("latestArtifact")
def resolve_sequence_latest(c: Collection, info: Info) -> Artifact | None:
    with context_of(info).storage.db.read() as conn:
        return repo.latest_live(conn, c.id)


@sequence_type.field("digestAlgorithm")
def resolve_sequence_digest_algorithm(*_: Any) -> str:
    return "MANIFEST_MD5"


# -- types and aliases --------------------------------------------------------------------------


@artifact_type_type.field("id")
def resolve_type_id(t: ArtifactType, *_: Any) -> str:
    return encode_id("ArtifactType", t.id)


@artifact_type_type.field("artifactCollections")
def resolve_type_collections(t: ArtifactType, info: Info, after: str | None = None,
                             first: int | None = None, **_: Any) -> dict[str, Any]:
    ctx = context_of(info)
    return _collections(ctx, project_of(ctx, t.project_id), t.id, after, first)


@artifact_type_type.field("artifactCollection")
def resolve_type_collection(t: ArtifactType, info: Info, name: str | None = None
                            ) -> Collection | None:
    ctx = context_of(info)
    found = _named_collection(ctx, project_of(ctx, t.project_id), name) if name else None
    return found if found is not None and found.type_id == t.id else None


@artifact_type_type.field("artifactSequence")
def resolve_type_sequence(t: ArtifactType, info: Info, name: str | None = None
                          ) -> Collection | None:
    # SDK 0.19 reads a collection of a type through here (ProjectArtifactCollection).
    found = resolve_type_collection(t, info, name)
    return found if found is not None and found.kind is CollectionKind.SEQUENCE else None


@artifact_type_type.field("artifact")
def resolve_type_artifact(t: ArtifactType, info: Info, name: str | None = None
                          ) -> Artifact | None:
    # SDK 0.2x lists an artifact's files through here (GetArtifactFiles).
    membership = resolve_project_membership(project_of(context_of(info), t.project_id), info, name)
    if membership is None or membership.collection.type_id != t.id:
        return None
    artifact: Artifact = membership.artifact
    return artifact


@alias_type.field("id")
def resolve_alias_id(a: Alias, *_: Any) -> str:
    return encode_id("ArtifactAlias", a.id)


@alias_type.field("artifactCollection")
def resolve_alias_collection(a: Alias, info: Info) -> Collection | None:
    return collection_of(context_of(info), a.collection_id)


class DictFirstFiles(SchemaBindable):
    """Artifact files are plain dicts; run files keep the resolvers ``files.py`` binds.

    Wraps every ``File`` field resolver already bound so that a dict source is read by key.
    Must be bound after the run-file resolvers.
    """

    def bind_to_schema(self, schema: GraphQLSchema) -> None:
        gtype = schema.type_map["File"]
        for name, gfield in getattr(gtype, "fields", {}).items():
            if gfield.resolve is not None:
                gfield.resolve = _prefer_dict(name, gfield.resolve)


def _prefer_dict(name: str, previous: Any) -> Any:
    def resolve(source: Any, info: Any, **kwargs: Any) -> Any:
        if isinstance(source, dict):
            return source.get(name)
        return previous(source, info, **kwargs)

    return resolve


BINDABLES: list[Any] = [query, project_type, run_type, artifact_type, membership_type,
                        collection_iface, sequence_type, artifact_type_type, alias_type,
                        DictFirstFiles()]
