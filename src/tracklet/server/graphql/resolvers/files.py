"""Run files: upload URLs (CreateRunFiles), confirmation and listing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ariadne import MutationType, ObjectType

from tracklet.domain.names import validate_file_path
from tracklet.domain.records import Run, RunFile
from tracklet.errors import InvalidInput
from tracklet.server.graphql.context import GraphQLContext, Info
from tracklet.server.graphql.ids import encode_id
from tracklet.server.graphql.resolvers.runs import load_run
from tracklet.server.urls import run_file_download_url, run_file_upload_url
from tracklet.storage.metadata import runs as run_repo

mutation = MutationType()
run_type = ObjectType("Run")
file_type = ObjectType("File")

_MAX_FILES_PER_REQUEST = 10_000


@dataclass(frozen=True)
class FileNode:
    """A File in GraphQL: a stored run file, or a name just handed an upload URL."""

    run: Run
    name: str
    file: RunFile | None = None
    upload_url: str | None = None


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise InvalidInput("files must be a list of file names")
    if len(value) > _MAX_FILES_PER_REQUEST:
        raise InvalidInput(f"at most {_MAX_FILES_PER_REQUEST} files per request")
    return [validate_file_path(n) for n in value]


@mutation.field("createRunFiles")
def resolve_create_run_files(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    ctx: GraphQLContext = info.context
    data = input or {}
    names = _names(data.get("files"))
    run = load_run(ctx, str(data.get("entity_name") or ctx.user.entity),
                   str(data.get("project_name") or ""), str(data.get("run_name") or ""))
    with ctx.storage.db.write() as conn:
        run_repo.register_run_files(conn, run.id, names)
    return {
        "runID": encode_id("Run", run.id),
        "uploadHeaders": [],
        "files": [
            FileNode(run, n, upload_url=run_file_upload_url(
                ctx.storage, ctx.settings, ctx.base_url, run.id, n))
            for n in names
        ],
    }


@mutation.field("markRunFilesUploaded")
def resolve_mark_run_files_uploaded(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    ctx: GraphQLContext = info.context
    data = input or {}
    names = _names(data.get("files"))
    load_run(ctx, str(data.get("entity_name") or ctx.user.entity),
             str(data.get("project_name") or ""), str(data.get("run_name") or ""))
    # The upload itself already recorded the bytes; this confirms nothing is pending.
    del names
    return {"success": True}


@run_type.field("files")
def resolve_run_files(
    run: Run,
    info: Info,
    names: list[str] | None = None,
    after: str | None = None,
    first: int | None = None,
    pattern: str | None = None,
) -> dict[str, Any]:
    ctx: GraphQLContext = info.context
    limit = min(max(first or 50, 1), 10_000)
    # `run.file("./x.txt")` (as `wandb verify` asks) names the file saved as "x.txt".
    wanted = [_relative(n) for n in (names or []) if n]
    with ctx.storage.db.read() as conn:
        # The SDK documents `pattern` as SQL LIKE syntax ("%.json"); names win over it.
        rows = run_repo.list_run_files(conn, run.id, wanted or None, after, limit + 1,
                                       pattern=None if wanted else pattern)
        page, more = rows[:limit], len(rows) > limit
    edges = [{"node": FileNode(run, f.name, f), "cursor": f.name} for f in page]
    return {
        "edges": edges,
        "pageInfo": {"endCursor": page[-1].name if page else None, "hasNextPage": more,
                     "startCursor": page[0].name if page else None, "hasPreviousPage": False},
        "totalCount": len(page),
    }


def _relative(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


@file_type.field("id")
def resolve_file_id(node: FileNode, *_: Any) -> str:
    return encode_id("File", node.run.id) + ":" + node.name


@file_type.field("displayName")
def resolve_file_display_name(node: FileNode, *_: Any) -> str:
    return node.name


@file_type.field("sizeBytes")
def resolve_file_size(node: FileNode, *_: Any) -> int:
    return node.file.size if node.file else 0


@file_type.field("md5")
@file_type.field("digest")
def resolve_file_md5(node: FileNode, *_: Any) -> str | None:
    return node.file.md5 if node.file else None


@file_type.field("mimetype")
def resolve_file_mimetype(node: FileNode, *_: Any) -> str | None:
    return node.file.mimetype if node.file else None


@file_type.field("updatedAt")
def resolve_file_updated(node: FileNode, *_: Any) -> float | None:
    return node.file.updated_at if node.file else None


@file_type.field("uploadHeaders")
def resolve_file_upload_headers(*_: Any) -> list[str]:
    return []


@file_type.field("url")
def resolve_file_url(
    node: FileNode, info: Info, upload: bool | None = None
) -> str | None:
    ctx: GraphQLContext = info.context
    if upload:
        return node.upload_url or run_file_upload_url(
            ctx.storage, ctx.settings, ctx.base_url, node.run.id, node.name)
    if node.file is None or node.file.blob_key is None:
        return None
    return run_file_download_url(ctx.storage, ctx.settings, ctx.base_url, node.run.id,
                                 node.name, node.file.blob_key, node.file.mimetype)


@file_type.field("directUrl")
def resolve_file_direct_url(node: FileNode, info: Info) -> str:
    return resolve_file_url(node, info) or ""


BINDABLES = [mutation, run_type, file_type]
