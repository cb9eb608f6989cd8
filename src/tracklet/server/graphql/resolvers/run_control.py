"""Stopping and branching runs: StopRun, Run.stopped (RunStoppedStatus) and RewindRun.

The SDK's stop poll asks wandb-core, which answers from the ``stopped`` flag of the last
file_stream response; ``Run.stopped`` serves the older RunStoppedStatus query of launch.
"""

from __future__ import annotations

from typing import Any

from ariadne import MutationType, ObjectType
from sqlalchemy import Connection

from tracklet.domain.policy import Action, require
from tracklet.domain.records import Run
from tracklet.domain.runs import check_transition
from tracklet.errors import InvalidInput, NotFound
from tracklet.ingest import rewind
from tracklet.server.graphql.context import GraphQLContext, Info
from tracklet.server.graphql.ids import decode_id
from tracklet.storage.metadata import runs as run_repo

mutation = MutationType()
run_type = ObjectType("Run")


@mutation.field("stopRun")
def resolve_stop_run(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """Ask a live run to stop; a run that already ended is left as it is."""
    ctx: GraphQLContext = info.context
    raw_id = (input or {}).get("id")
    if not isinstance(raw_id, str) or not raw_id:
        raise InvalidInput("stopRun needs the run's id")
    run_id = decode_id("Run", raw_id)
    with ctx.storage.db.write() as conn:
        _writable_run(conn, ctx, run_id)
        run_repo.request_stop(conn, run_id)
    return {"success": True}


def _writable_run(conn: Connection, ctx: GraphQLContext, run_id: int) -> Run:
    """The run with ``run_id``; NotFound, or PermissionDenied unless the caller may write it."""
    run = run_repo.get_run_by_id(conn, run_id)
    if run is None:
        raise NotFound("run not found")
    require(ctx.user, Action.WRITE, run.entity, run.project, missing="run not found")
    return run


@mutation.field("updateRunState")
def resolve_update_run_state(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """``Run.update_state``: requeue a run (pending) or mark it failed; sweep runs excepted."""
    ctx: GraphQLContext = info.context
    data = input or {}
    raw_id, target = data.get("id"), data.get("state")
    if not isinstance(raw_id, str) or not raw_id or not isinstance(target, str):
        raise InvalidInput("updateRunState needs the run's id and a state")
    run_id = decode_id("Run", raw_id)
    with ctx.storage.db.write() as conn:
        run = _writable_run(conn, ctx, run_id)
        if run.sweep_name:
            raise InvalidInput("the state of a sweep run cannot be changed")
        goal = check_transition(run.state, target)
        run_repo.set_run_columns(conn, run_id, state=goal.value)
    return {"success": True}


@run_type.field("stopped")
def resolve_run_stopped(run: Run, *_: Any) -> bool:
    return run.stop_requested


@mutation.field("rewindRun")
def resolve_rewind_run(_: Any, info: Info, input: dict[str, Any]  # noqa: A002
                       ) -> dict[str, Any]:
    """``wandb.init(resume_from=...)`` asks for this before anything else is sent."""
    ctx = info.context
    metric_value = input.get("metric_value")
    if isinstance(metric_value, bool) or not isinstance(metric_value, (int, float)):
        raise InvalidInput("rewindRun needs a numeric metricValue")
    run = rewind.rewind_run(
        ctx.storage, ctx.user, str(input.get("entity_name") or ctx.user.entity),
        str(input.get("project_name") or "uncategorized"), str(input.get("run_name") or ""),
        str(input.get("metric_name") or ""), float(metric_value))
    return {"rewoundRun": run}


BINDABLES = [mutation, run_type]
