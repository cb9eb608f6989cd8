"""Artifact mutations: the logging flow (PROTOCOL §2.4), use, link, aliases, edits, deletes."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, QueryType

from tracklet.domain.artifacts import Artifact, Collection, md5_b64_to_hex
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest import artifact_edits as edits
from tracklet.ingest import artifact_manifests as manifests
from tracklet.ingest import artifacts as ingest
from tracklet.ingest import collection_types
from tracklet.ingest.uploads import HashingSpool
from tracklet.server.graphql.context import GraphQLContext, Info, context_of
from tracklet.server.graphql.ids import decode_id, encode_id
from tracklet.server.graphql.inputs import input_str
from tracklet.server.graphql.resolvers.artifact_reads import (
    artifact_id,
    collection_id,
    tag_node,
)
from tracklet.server.urls import (
    artifact_file_upload_url,
    artifact_part_upload_url,
    manifest_upload_url,
)

query = QueryType()
mutation = MutationType()

_MAX_FILES_PER_REQUEST = 10_000


def _int(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"{key} must be an integer")
    return value


def _alias_names(data: dict[str, Any]) -> list[str]:
    return [str(a.get("alias")) for a in data.get("aliases") or [] if isinstance(a, dict)]


def _tag_names(values: Any) -> tuple[str, ...]:
    return tuple(str(t.get("tag_name")) for t in values or [] if isinstance(t, dict))


@mutation.field("createArtifact")
def resolve_create_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    collection = input_str(input, "artifact_collection_name")
    names = input.get("artifact_collection_names") or []
    if collection is None and names:
        collection = str(names[0])
    req = ingest.CreateRequest(
        entity=input_str(input, "entity_name", True) or "",
        project=input_str(input, "project_name", True) or "",
        run_name=input_str(input, "run_name"),
        type_name=input_str(input, "artifact_type_name", True) or "",
        collection=collection or "",
        digest=input_str(input, "digest", True) or "",
        digest_algorithm=input_str(input, "digest_algorithm") or "MANIFEST_MD5",
        description=input_str(input, "description"),
        metadata=input_str(input, "metadata"),
        aliases=tuple(_alias_names(input)),
        client_id=input_str(input, "client_id"),
        sequence_client_id=input_str(input, "sequence_client_id"),
        deduplicate=bool(input.get("enable_digest_deduplication", True)),
        history_step=_int(input, "history_step"),
        ttl_seconds=_int(input, "ttl_duration_seconds"),
        tags=_tag_names(input.get("tags")),
        distributed_id=input_str(input, "distributed_id"),
        storage_region=input_str(input, "storage_region"),
    )
    return {"artifact": ingest.create_artifact(ctx.storage, ctx.user, req,
                                               ctx.settings.storage_region_names)}


def _manifest_payload(ctx: GraphQLContext, artifact: Artifact, digest: str | None
                      ) -> dict[str, Any]:
    url = manifest_upload_url(ctx.storage, ctx.settings, ctx.base_url, artifact.id,
                              digest or "")
    return {"artifactManifest": {
        "id": encode_id("ArtifactManifest", artifact.id),
        "file": {"id": encode_id("ArtifactManifestFile", artifact.id),
                 "name": "wandb_manifest.json", "displayName": "wandb_manifest.json",
                 "uploadUrl": url, "uploadHeaders": [], "directUrl": "", "sizeBytes": 0},
    }}


@mutation.field("createArtifactManifest")
def resolve_create_manifest(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    pk = artifact_id(input.get("artifact_id"))
    digest = input_str(input, "digest")
    if digest:
        md5_b64_to_hex(digest)
    base = input.get("base_artifact_id")
    artifact = manifests.set_manifest_kind(
        ctx.storage, ctx.user, pk, input_str(input, "type") or "FULL",
        artifact_id(base) if base else None)
    return _manifest_payload(ctx, artifact, digest)


@mutation.field("updateArtifactManifest")
def resolve_update_manifest(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    raw = input.get("artifact_manifest_id")
    if not isinstance(raw, str):
        raise InvalidInput("artifactManifestID is required")
    artifact = ingest.get_artifact(ctx.storage, ctx.user, decode_id("ArtifactManifest", raw),
                                   write=True)
    return _manifest_payload(ctx, artifact, input_str(input, "digest"))


def _file_specs(input: dict[str, Any]) -> list[ingest.FileSpec]:  # noqa: A002
    files = input.get("artifact_files")
    if not isinstance(files, list) or len(files) > _MAX_FILES_PER_REQUEST:
        raise InvalidInput(f"artifactFiles must be a list of at most {_MAX_FILES_PER_REQUEST}")
    specs = []
    for f in files:
        parts = tuple((int(p["part_number"]), str(p["hex_m_d_5"]))
                      for p in f.get("upload_parts_input") or [])
        specs.append(ingest.FileSpec(artifact_id=artifact_id(f.get("artifact_id")),
                                     name=input_str(f, "name", True) or "",
                                     md5_b64=input_str(f, "md_5", True) or "", parts=parts))
    return specs


@mutation.field("createArtifactFiles")
def resolve_create_artifact_files(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                                  ) -> dict[str, Any]:
    ctx = context_of(info)
    uploads = ingest.request_uploads(ctx.storage, ctx.user, _file_specs(input))
    edges = []
    for up in uploads:
        gid = encode_id("Artifact", up.spec.artifact_id)
        url = multipart = None
        if up.needs_upload:
            url = artifact_file_upload_url(ctx.storage, ctx.settings, ctx.base_url,
                                           up.spec.artifact_id, up.spec.md5_b64, up.spec.name)
        if up.upload_id is not None:
            multipart = {"uploadID": up.upload_id, "uploadUrlParts": [
                {"partNumber": n, "uploadUrl": artifact_part_upload_url(
                    ctx.storage, ctx.settings, ctx.base_url, up.upload_id, n, up.spec.name)}
                for n in up.part_numbers]}
        edges.append({"node": {
            "__typename": "File", "id": gid + ":" + up.spec.name, "name": up.spec.name,
            "displayName": up.spec.name, "storagePath": up.storage_path, "uploadUrl": url,
            "uploadHeaders": [f"Content-MD5:{up.spec.md5_b64}"] if url else [],
            "uploadMultipartUrls": multipart, "artifact": up.artifact, "directUrl": "",
            "sizeBytes": 0}, "cursor": up.spec.name})
    return {"files": {"edges": edges, "pageInfo": {"endCursor": None, "hasNextPage": False},
                      "totalCount": len(edges)}}


@mutation.field("completeMultipartUploadArtifact")
def resolve_complete_multipart(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                               ) -> dict[str, Any]:
    ctx = context_of(info)
    parts = [(int(p["part_number"]), str(p["hex_m_d_5"])) for p in input.get("completed_parts")
             or []]
    spool = HashingSpool()
    try:
        md5_hex = ingest.complete_multipart(
            ctx.storage, ctx.user, artifact_id(input.get("artifact_id")),
            input_str(input, "upload_id", True) or "", parts, spool)
    finally:
        spool.close()
    return {"digest": md5_hex}


@mutation.field("commitArtifact")
def resolve_commit_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    pk = artifact_id(input.get("artifact_id"))
    return {"artifact": ingest.commit_artifact(ctx.storage, ctx.user, pk)}


@mutation.field("useArtifact")
def resolve_use_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    artifact = ingest.use_artifact(
        ctx.storage, ctx.user, input_str(input, "entity_name", True) or "",
        input_str(input, "project_name", True) or "", input_str(input, "run_name", True) or "",
        artifact_id(input.get("artifact_id")), input_str(input, "used_as"))
    return {"artifact": artifact}


@query.field("clientIDMapping")
def resolve_client_id_mapping(_: Any, info: Info, client_id: str | None = None
                              ) -> dict[str, str] | None:
    ctx = context_of(info)
    if not client_id:
        return None
    artifact = ingest.find_by_client_id(ctx.storage, ctx.user, client_id, sequence=True)
    return None if artifact is None else {"serverID": encode_id("Artifact", artifact.id)}


def _link_source(ctx: GraphQLContext, input: dict[str, Any]) -> int:  # noqa: A002
    if input.get("artifact_id"):
        return artifact_id(input.get("artifact_id"))
    client = input_str(input, "client_id")
    if client:
        found = ingest.find_by_client_id(ctx.storage, ctx.user, client)
        if found is not None:
            return found.id
        raise NotFound(f"no artifact was logged with client id {client!r}")
    raise InvalidInput("linkArtifact needs artifactID or clientID")


@mutation.field("linkArtifact")
def resolve_link_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    name = input_str(input, "artifact_portfolio_name", True) or ""
    membership = edits.link_artifact(
        ctx.storage, ctx.user, _link_source(ctx, input),
        input_str(input, "entity_name") or ctx.user.entity,
        input_str(input, "project_name") or "uncategorized", name, _alias_names(input))
    return {"versionIndex": membership.version_index, "artifactMembership": membership}


@mutation.field("unlinkArtifact")
def resolve_unlink_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    edits.unlink_artifact(ctx.storage, ctx.user, artifact_id(input.get("artifact_id")),
                          collection_id(input.get("artifact_portfolio_id")))
    return {"success": True}


def _alias_targets(input: dict[str, Any]) -> list[edits.AliasTarget]:  # noqa: A002
    return [edits.AliasTarget(entity=str(a.get("entity_name")),
                              project=str(a.get("project_name")),
                              collection=str(a.get("artifact_collection_name")),
                              alias=str(a.get("alias")))
            for a in input.get("aliases") or []]


def _artifact_id_text(input: dict[str, Any]) -> int:  # noqa: A002
    return artifact_id(input.get("artifact_id"))


@mutation.field("addAliases")
def resolve_add_aliases(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    edits.add_aliases(ctx.storage, ctx.user, _artifact_id_text(input), _alias_targets(input))
    return {"success": True}


@mutation.field("deleteAliases")
def resolve_delete_aliases(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    edits.delete_aliases(ctx.storage, ctx.user, _artifact_id_text(input),
                         _alias_targets(input))
    return {"success": True}


@mutation.field("updateArtifact")
def resolve_update_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    pk = _artifact_id_text(input)
    if input.get("aliases") is not None:
        artifact = ingest.get_artifact(ctx.storage, ctx.user, pk, write=True)
        targets = [edits.AliasTarget(artifact.entity, artifact.project, str(
            a.get("artifact_collection_name")), str(a.get("alias")))
            for a in input.get("aliases") or []]
        edits.add_aliases(ctx.storage, ctx.user, pk, targets)
    updated = edits.update_artifact(
        ctx.storage, ctx.user, pk, description=input_str(input, "description"),
        metadata=input_str(input, "metadata"), ttl_seconds=_int(input, "ttl_duration_seconds"),
        tags_add=_tag_names(input.get("tags_to_add")),
        tags_delete=_tag_names(input.get("tags_to_delete")))
    return {"artifact": updated}


@mutation.field("deleteArtifact")
def resolve_delete_artifact(_: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:  # noqa: A002
    ctx = context_of(info)
    deleted = edits.delete_artifact(ctx.storage, ctx.user, _artifact_id_text(input),
                                    bool(input.get("delete_aliases")))
    return {"artifact": deleted}


def _delete_collection(info: Info, raw: Any) -> dict[str, Collection]:
    ctx = context_of(info)
    return {"artifactCollection": edits.delete_collection(ctx.storage, ctx.user,
                                                          collection_id(raw))}


@mutation.field("deleteArtifactSequence")
def resolve_delete_sequence(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                            ) -> dict[str, Collection]:
    return _delete_collection(info, input.get("artifact_sequence_id"))


@mutation.field("deleteArtifactPortfolio")
def resolve_delete_portfolio(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                             ) -> dict[str, Collection]:
    return _delete_collection(info, input.get("artifact_portfolio_id"))


def _update_collection(info: Info, input: dict[str, Any], key: str  # noqa: A002
                       ) -> dict[str, Collection]:
    ctx = context_of(info)
    return {"artifactCollection": edits.update_collection(
        ctx.storage, ctx.user, collection_id(input.get(key)), input_str(input, "name"),
        input_str(input, "description"))}


@mutation.field("updateArtifactSequence")
def resolve_update_sequence(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                            ) -> dict[str, Collection]:
    return _update_collection(info, input, "artifact_sequence_id")


@mutation.field("updateArtifactPortfolio")
def resolve_update_portfolio(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                             ) -> dict[str, Collection]:
    return _update_collection(info, input, "artifact_portfolio_id")


@mutation.field("moveArtifactSequence")
def resolve_move_sequence(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                          ) -> dict[str, Collection]:
    ctx = context_of(info)
    return {"artifactCollection": collection_types.move_sequence(
        ctx.storage, ctx.user, collection_id(input.get("artifact_sequence_id")),
        str(input.get("destination_artifact_type_name") or ""))}


def _collection_path(input: dict[str, Any]) -> tuple[str, str, str]:  # noqa: A002
    return (str(input.get("entity_name") or ""), str(input.get("project_name") or ""),
            str(input.get("artifact_collection_name") or ""))


@mutation.field("createArtifactCollectionTagAssignments")
def resolve_add_collection_tags(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                                ) -> dict[str, Any]:
    ctx = context_of(info)
    added = _tag_names(input.get("tags"))
    collection_types.change_tags(ctx.storage, ctx.user, *_collection_path(input), add=added)
    return {"tags": [tag_node(t) for t in added]}


@mutation.field("deleteArtifactCollectionTagAssignments")
def resolve_delete_collection_tags(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                                   ) -> dict[str, Any]:
    ctx = context_of(info)
    collection_types.change_tags(ctx.storage, ctx.user, *_collection_path(input),
                                 delete=_tag_names(input.get("tags")))
    return {"success": True}


BINDABLES: list[Any] = [query, mutation]
