"""``deleteRun`` (``run.delete()`` in the public API)."""

from __future__ import annotations

from typing import Any

from ariadne import MutationType

from tracklet.domain.policy import Action, require
from tracklet.errors import NotFound
from tracklet.ingest.artifact_edits import delete_artifact
from tracklet.server.graphql.context import GraphQLContext, Info
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.run_deletion import delete_run, deleted_run_entity, logged_by_run

mutation = MutationType()


@mutation.field("deleteRun")
def resolve_delete_run(
    _: Any, info: Info, input: dict[str, Any]  # noqa: A002
) -> dict[str, Any]:
    ctx = info.context
    assert isinstance(ctx, GraphQLContext)
    run_id = decode_id("Run", str(input.get("id") or ""))
    with ctx.storage.db.read() as conn:
        run = run_repo.get_run_by_id(conn, run_id)
    if run is None:
        # Deleting again (a retry, a stale Run object) answers like the first time did.
        entity = deleted_run_entity(ctx.storage, run_id)
        if entity is None:
            raise NotFound("run not found")
        require(ctx.user, Action.WRITE, entity, missing="run not found")
        return {"clientMutationId": input.get("client_mutation_id")}
    require(ctx.user, Action.WRITE, run.entity, run.project, missing="run not found")
    if input.get("delete_artifacts"):
        # The versions the run logged go first (aliases and all, as W&B does); their
        # bytes are shared by content, so blob garbage collection frees what nothing
        # else references.
        for artifact_id in logged_by_run(ctx.storage, run.id):
            delete_artifact(ctx.storage, ctx.user, artifact_id, delete_aliases=True)
    delete_run(ctx.storage, run.id, ctx.user.username)
    return {"clientMutationId": input.get("client_mutation_id")}


BINDABLES = [mutation]
