"""Sweeps: UpsertSweep (create, --update, --pause/--resume/--stop/--cancel), CreateAgent,
AgentHeartbeat, ``project.sweep(s)`` and the Sweep and Agent fields the SDK reads."""

from __future__ import annotations

from typing import Any

import orjson
from ariadne import MutationType, ObjectType

from tracklet.domain.records import Project, Run
from tracklet.domain.runs import LIVE_STATES, RunState
from tracklet.domain.sweeps.config import load_config_text, spec_of_text
from tracklet.domain.sweeps.records import Sweep, SweepAgent
from tracklet.domain.sweeps.search import expected_run_count
from tracklet.errors import InvalidInput, TrackletError
from tracklet.ingest import sweeps as controller
from tracklet.ingest.sweeps import SweepUpsert, metric_of
from tracklet.server.graphql.context import Info, context_of
from tracklet.server.graphql.ids import decode_id, encode_id
from tracklet.server.graphql.inputs import nonblank_str
from tracklet.storage.history.jsonline import loads
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import sweeps as sweep_repo

mutation = MutationType()
project_type = ObjectType("Project")
sweep_type = ObjectType("Sweep")
agent_type = ObjectType("Agent")
run_type = ObjectType("Run")

_MAX_PAGE = 1000


def _json(raw: Any, what: str) -> Any:
    if not isinstance(raw, str):
        return raw
    try:
        return loads(raw)
    except ValueError:
        raise InvalidInput(f"{what} must be JSON") from None


def _prior_runs(raw: Any) -> list[str]:
    """Run names from ``priorRunsFilters`` (``{"$or": [{"name": ...}, ...]}``)."""
    if raw is None:
        return []
    doc = _json(raw, "priorRunsFilters")
    clauses = doc.get("$or") if isinstance(doc, dict) else None
    if not isinstance(clauses, list):
        raise InvalidInput('priorRunsFilters must be {"$or": [{"name": run}, ...]}')
    names = [c.get("name") for c in clauses if isinstance(c, dict)]
    if not all(isinstance(n, str) for n in names):
        raise InvalidInput("priorRunsFilters names must be strings")
    return [n for n in names if isinstance(n, str)]


@mutation.field("upsertSweep")
def resolve_upsert_sweep(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """Create a sweep from its config, or change one named by its id."""
    data = input or {}
    raw_id = nonblank_str(data, "id")
    req = SweepUpsert(
        sweep_id=decode_id("Sweep", raw_id) if raw_id else None,
        entity=nonblank_str(data, "entity_name"),
        project=nonblank_str(data, "project_name"),
        config=nonblank_str(data, "config"),
        state=nonblank_str(data, "state"),
        display_name=nonblank_str(data, "display_name"),
        description=nonblank_str(data, "description"),
        prior_runs=_prior_runs(data.get("prior_runs_filters")),
    )
    ctx = context_of(info)
    sweep, warnings = controller.upsert_sweep(ctx.storage, ctx.user, req)
    return {"sweep": sweep, "configValidationWarnings": warnings}


@mutation.field("createAgent")
def resolve_create_agent(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """Register an agent on a sweep (named by the sweep's name in entity/project)."""
    data = input or {}
    sweep = nonblank_str(data, "sweep")
    if not sweep:
        raise InvalidInput("createAgent needs the sweep")
    ctx = context_of(info)
    agent = controller.register_agent(
        ctx.storage, ctx.user, nonblank_str(data, "entity_name"),
        nonblank_str(data, "project_name"), sweep, nonblank_str(data, "host") or "unknown")
    return {"agent": agent}


@mutation.field("agentHeartbeat")
def resolve_agent_heartbeat(
    _: Any, info: Info, input: dict[str, Any] | None = None  # noqa: A002
) -> dict[str, Any]:
    """The agent's running runs in; the commands it should carry out back (JSON text)."""
    data = input or {}
    raw_id = nonblank_str(data, "id")
    if not raw_id:
        raise InvalidInput("agentHeartbeat needs the agent's id")
    states = _json(data.get("run_state"), "runState") or {}
    if not isinstance(states, dict):
        raise InvalidInput("runState must be a JSON object of run ids")
    ctx = context_of(info)
    agent, commands = controller.heartbeat(ctx.storage, ctx.user, decode_id("Agent", raw_id),
                                           states)
    return {"agent": agent, "commands": orjson.dumps(commands).decode()}


# -- Project ----------------------------------------------------------------------------------


@project_type.field("sweep")
def resolve_project_sweep(
    project: Project, info: Info, sweep_name: str | None = None
) -> Sweep | None:
    if not sweep_name:
        return None
    with context_of(info).storage.db.read() as conn:
        return sweep_repo.find_sweep(conn, project.id, sweep_name)


@project_type.field("sweeps")
def resolve_project_sweeps(
    project: Project, info: Info, after: str | None = None, first: int | None = None,
    filters: Any = None,
) -> dict[str, Any]:
    limit = 50 if first is None else max(1, min(first, _MAX_PAGE))
    if after is not None and not after.isdigit():
        raise InvalidInput("invalid cursor")
    with context_of(info).storage.db.read() as conn:
        rows = sweep_repo.list_sweeps(conn, project.id, int(after) if after else None,
                                      limit + 1)
    page = rows[:limit]
    return {"edges": [{"node": s, "cursor": str(s.id)} for s in page],
            "pageInfo": {"endCursor": str(page[-1].id) if page else after,
                         "hasNextPage": len(rows) > limit}}


@project_type.field("totalSweeps")
def resolve_project_total_sweeps(project: Project, info: Info) -> int:
    with context_of(info).storage.db.read() as conn:
        return sweep_repo.count_sweeps(conn, project.id)


# -- Sweep ------------------------------------------------------------------------------------


@sweep_type.field("id")
def resolve_sweep_id(sweep: Sweep, *_: Any) -> str:
    return encode_id("Sweep", sweep.id)


@sweep_type.field("project")
def resolve_sweep_project(sweep: Sweep, info: Info) -> Project:
    with context_of(info).storage.db.read() as conn:
        return accounts.get_project_by_id(conn, sweep.project_id)


@sweep_type.field("runCount")
def resolve_sweep_run_count(sweep: Sweep, info: Info) -> int:
    with context_of(info).storage.db.read() as conn:
        return sweep_repo.count_sweep_runs(conn, sweep)


@sweep_type.field("runCountExpected")
def resolve_sweep_run_count_expected(sweep: Sweep, *_: Any) -> int | None:
    try:
        return expected_run_count(spec_of_text(sweep.config))
    except TrackletError:
        return None


@sweep_type.field("configJson")
def resolve_sweep_config_json(sweep: Sweep, *_: Any) -> str | None:
    try:
        return orjson.dumps(load_config_text(sweep.config)).decode()
    except (TrackletError, TypeError):
        return None


@sweep_type.field("bestLoss")
def resolve_sweep_best_loss(sweep: Sweep, info: Info) -> float | None:
    """The best value of the sweep's metric over its runs (lowest or highest by goal)."""
    try:
        spec = spec_of_text(sweep.config)
    except TrackletError:
        return None
    if spec.metric is None:
        return None
    with context_of(info).storage.db.read() as conn:
        runs = sweep_repo.sweep_runs_of(conn, sweep)
    values = [v for r in runs if (v := metric_of(r, spec.metric)) is not None]
    if not values:
        return None
    return min(values) if spec.minimize else max(values)


@sweep_type.field("runs")
def resolve_sweep_runs(
    sweep: Sweep, info: Info, after: str | None = None, first: int | None = None
) -> dict[str, Any]:
    with context_of(info).storage.db.read() as conn:
        runs = sweep_repo.sweep_runs_of(conn, sweep)
    start = 0
    if after is not None:
        if not after.isdigit():
            raise InvalidInput("invalid cursor")
        start = int(after)
    limit = len(runs) if first is None else max(0, min(first, _MAX_PAGE))
    page = runs[start:start + limit]
    return {"edges": [{"node": r, "cursor": str(start + i + 1)} for i, r in enumerate(page)],
            "pageInfo": {"endCursor": str(start + len(page)),
                         "hasNextPage": start + len(page) < len(runs)}}


@sweep_type.field("agents")
def resolve_sweep_agents(sweep: Sweep, info: Info) -> dict[str, Any]:
    with context_of(info).storage.db.read() as conn:
        agents = sweep_repo.list_agents(conn, sweep.id)
    return {"edges": [{"node": a} for a in agents]}


@sweep_type.field("agent")
def resolve_sweep_agent(sweep: Sweep, info: Info,
                        agent_name: str | None = None) -> SweepAgent | None:
    if not agent_name:
        return None
    with context_of(info).storage.db.read() as conn:
        return sweep_repo.find_agent(conn, sweep.id, agent_name)


for _field, _value in {"earlyStopJobRunning": False, "controller": None,
                       "scheduler": None, "controllerRunName": None}.items():
    sweep_type.set_field(_field, lambda *_a, _v=_value: _v)


# -- Agent ------------------------------------------------------------------------------------


@agent_type.field("id")
def resolve_agent_id(agent: SweepAgent, *_: Any) -> str:
    return encode_id("Agent", agent.id)


@agent_type.field("runs")
def resolve_agent_runs(agent: SweepAgent, info: Info, **_: Any) -> dict[str, Any]:
    with context_of(info).storage.db.read() as conn:
        names = sweep_repo.agent_run_names(conn, agent.id)
        sweep = sweep_repo.get_sweep(conn, agent.sweep_id)
        runs = [] if sweep is None else sweep_repo.sweep_runs_of(conn, sweep, names)
    return {"edges": [{"node": r, "cursor": str(i + 1)} for i, r in enumerate(runs)],
            "pageInfo": {"endCursor": str(len(runs)), "hasNextPage": False}}


# -- Run --------------------------------------------------------------------------------------


@run_type.field("exitcode")
def resolve_run_exitcode(run: Run, *_: Any) -> int | None:
    return run.exit_code


@run_type.field("shouldStop")
def resolve_run_should_stop(run: Run, *_: Any) -> bool:
    return run.stop_requested


@run_type.field("failed")
def resolve_run_failed(run: Run, *_: Any) -> bool:
    return run.state in (RunState.FAILED.value, RunState.CRASHED.value)


@run_type.field("running")
def resolve_run_running(run: Run, *_: Any) -> bool:
    return RunState(run.state) in LIVE_STATES


BINDABLES = [mutation, project_type, sweep_type, agent_type, run_type]
