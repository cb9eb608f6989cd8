"""``deleteFiles`` (``File.delete()`` in the public API)."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType

from tracklet.domain.policy import Action, require
from tracklet.errors import InvalidInput, NotFound
from tracklet.server.graphql.context import GraphQLContext, Info
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.metadata import runs as run_repo

mutation = MutationType()

_MAX_FILES_PER_REQUEST = 10_000


def _file_ref(value: str) -> tuple[int, str]:
    """(run id, file name) of a File id: ``<Run id>:<name>`` as ``File.id`` answers it."""
    encoded, sep, name = value.partition(":")
    if not sep or not name:
        raise InvalidInput(f"invalid File id {value!r}")
    return decode_id("File", encoded), name


@mutation.field("deleteFiles")
def resolve_delete_files(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """Forget each named file of its run; the bytes stay, since blobs are shared by content.
    Deleting a file that is already gone succeeds (a retry answers like the first try)."""
    ctx = info.context
    assert isinstance(ctx, GraphQLContext)
    ids = (input or {}).get("files") or []
    if len(ids) > _MAX_FILES_PER_REQUEST:
        raise InvalidInput(f"at most {_MAX_FILES_PER_REQUEST} files per request")
    refs = [_file_ref(str(i)) for i in ids]
    with ctx.storage.db.write() as conn:
        for run_id in dict.fromkeys(run_id for run_id, _name in refs):
            run = run_repo.get_run_by_id(conn, run_id)
            if run is None:
                raise NotFound("run not found")
            require(ctx.user, Action.WRITE, run.entity, run.project, missing="run not found")
        for run_id, name in refs:
            run_repo.delete_run_file(conn, run_id, name)
    return {"success": True}


BINDABLES = [mutation]
