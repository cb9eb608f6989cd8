"""The sweep controller: creating and changing sweeps, registering agents, and answering
their heartbeats with commands (``run``, ``stop``, ``exit``), as the SDK's agent expects.

The controller holds no state between requests: a heartbeat locks the sweep's row
(PostgreSQL; SQLite has one writer), reads what was handed out from ``sweep_runs`` and the
metrics from the runs, and proposes with :func:`tracklet.domain.sweeps.search.propose`.
So any server process can answer any agent.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from tracklet.domain.names import validate_name
from tracklet.domain.policy import Action, require
from tracklet.domain.records import Run, User
from tracklet.domain.runs import LIVE_STATES, RunState
from tracklet.domain.sweeps.config import (
    SweepSpec,
    load_config_text,
    parse_sweep_config,
    spec_of_text,
)
from tracklet.domain.sweeps.hyperband import iterations_needed, should_stop
from tracklet.domain.sweeps.records import (
    Sweep,
    SweepAgent,
    SweepState,
    check_sweep_transition,
)
from tracklet.domain.sweeps.search import Proposal, Trial, propose
from tracklet.errors import InvalidInput, NotFound
from tracklet.storage import Storage, teams
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata import sweeps as sweep_repo

# A run's metric in its summary may be a number or a summary dict ({"min": ..} etc.).
_NUMBER = (int, float)


@dataclass(frozen=True)
class SweepUpsert:
    """What UpsertSweep names: an existing sweep by id, or a new one in entity/project."""

    sweep_id: int | None
    entity: str | None
    project: str | None
    config: str | None
    state: str | None
    display_name: str | None
    description: str | None
    prior_runs: list[str]


def upsert_sweep(storage: Storage, user: User, req: SweepUpsert) -> tuple[Sweep, list[str]]:
    """Create a sweep, or update one (its config, state, name); returns it and the config's
    validation warnings."""
    spec = None
    if req.config is not None:
        spec = parse_sweep_config(load_config_text(req.config))
    with storage.db.write() as conn:
        if req.sweep_id is None:
            if req.config is None or spec is None:
                raise InvalidInput("upsertSweep needs a config to create a sweep")
            entity_name = validate_name("entity", req.entity or user.entity)
            project_name = validate_name("project", req.project or "uncategorized")
            require(user, Action.WRITE, entity_name, project_name)
            entity = teams.ensure_writable_entity(conn, user, entity_name)
            project = accounts.ensure_project(conn, entity, project_name)
            state = SweepState.RUNNING.value
            if req.state is not None:
                state = check_sweep_transition(SweepState.PENDING.value, req.state).value
            sweep = sweep_repo.create_sweep(
                conn, project, config=req.config, method=spec.method, state=state,
                user_id=user.id, display_name=req.display_name, description=req.description)
        else:
            found = sweep_repo.get_sweep(conn, req.sweep_id, lock=True)
            if found is None:
                raise NotFound("sweep not found")
            require(user, Action.WRITE, found.entity, found.project, missing="sweep not found")
            values: dict[str, Any] = {}
            if req.config is not None and spec is not None:
                values.update(config=req.config, method=spec.method)
            if req.state is not None:
                values["state"] = check_sweep_transition(found.state, req.state).value
            if req.display_name is not None:
                values["display_name"] = req.display_name
            if req.description is not None:
                values["description"] = req.description
            if values:
                sweep_repo.update_sweep(conn, found.id, **values)
            if values.get("state") == SweepState.CANCELED.value:
                _stop_live_runs(conn, found)
            sweep = sweep_repo.get_sweep(conn, found.id) or found
        sweep_repo.link_runs(conn, sweep, req.prior_runs)
    return sweep, list(spec.warnings) if spec is not None else []


def find_sweep(storage: Storage, user: User, entity: str | None, project: str | None,
               name: str) -> Sweep:
    """The sweep ``entity/project/name``; NotFound when missing."""
    entity_name = entity or user.entity
    with storage.db.read() as conn:
        found = accounts.find_project(conn, entity_name, project or "uncategorized")
        sweep = None if found is None else sweep_repo.find_sweep(conn, found.id, name)
    if sweep is None:
        raise NotFound(f"sweep {entity_name}/{project}/{name} not found")
    require(user, Action.READ, sweep.entity, sweep.project,
            missing=f"sweep {entity_name}/{project}/{name} not found")
    return sweep


def register_agent(storage: Storage, user: User, entity: str | None, project: str | None,
                   sweep_name: str, host: str) -> SweepAgent:
    """A new agent on the sweep (``wandb agent`` registers one at start)."""
    sweep = find_sweep(storage, user, entity, project, sweep_name)
    require(user, Action.WRITE, sweep.entity, sweep.project,
            missing=f"sweep {sweep.entity}/{sweep.project}/{sweep_name} not found")
    with storage.db.write() as conn:
        return sweep_repo.create_agent(conn, sweep.id, host[:256] or "unknown", user.id)


def heartbeat(storage: Storage, user: User, agent_id: int,
              run_states: dict[str, Any]) -> tuple[SweepAgent, list[dict[str, Any]]]:
    """An agent's heartbeat: its running runs in, the commands it should carry out back."""
    running = [name for name, alive in run_states.items() if alive]
    stops = _early_terminated(storage, agent_id, running) if running else []
    with storage.db.write() as conn:
        agent = sweep_repo.get_agent(conn, agent_id)
        if agent is None:
            raise NotFound("agent not found")
        sweep = sweep_repo.get_sweep(conn, agent.sweep_id, lock=True)
        if sweep is None:
            raise NotFound("sweep not found")
        require(user, Action.WRITE, sweep.entity, sweep.project, missing="agent not found")
        commands, handed_out = _commands(conn, sweep, agent, running, stops)
        sweep_repo.touch_agent(conn, agent.id, new_runs=handed_out,
                               state="FINISHED" if _exits(commands) else "RUNNING")
        agent = sweep_repo.get_agent(conn, agent.id) or agent
        sweep_repo.update_sweep(conn, sweep.id, heartbeat_at=agent.heartbeat_at)
    return agent, commands


def _exits(commands: list[dict[str, Any]]) -> bool:
    return any(c["type"] == "exit" for c in commands)


def _commands(conn: Connection, sweep: Sweep, agent: SweepAgent, running: list[str],
              stops: list[str]) -> tuple[list[dict[str, Any]], int]:
    state = SweepState(sweep.state)
    if state is SweepState.CANCELED:
        _mark_killed(conn, sweep, agent, running)
        if running:
            _stop_live_runs(conn, sweep, running)
            return [_command("stop", run_id=name) for name in running], 0
        return [_command("exit")], 0
    if state is SweepState.FINISHED:
        return ([] if running else [_command("exit")]), 0
    if state is SweepState.PAUSED:
        return [], 0
    if state is SweepState.PENDING:
        sweep_repo.update_sweep(conn, sweep.id, state=SweepState.RUNNING.value)
    spec = spec_of_text(sweep.config)
    if running:
        _stop_live_runs(conn, sweep, stops)
        return [_command("stop", run_id=name) for name in stops], 0
    proposal = None
    if spec.run_cap is None or sweep_repo.count_assignments(conn, sweep.id) < spec.run_cap:
        proposal = propose(spec, _trials(conn, sweep, spec), sweep.seed)
    if proposal is None:
        sweep_repo.update_sweep(conn, sweep.id, state=SweepState.FINISHED.value)
        return [_command("exit")], 0
    return [_hand_out(conn, sweep, agent, spec, proposal)], 1


def _hand_out(conn: Connection, sweep: Sweep, agent: SweepAgent, spec: SweepSpec,
              proposal: Proposal) -> dict[str, Any]:
    name = run_repo.new_run_name()
    while run_repo.find_run(conn, sweep.project_id, name) is not None:
        name = run_repo.new_run_name()
    params = orjson.dumps(proposal.values).decode()
    coordinates = (None if proposal.coordinates is None
                   else orjson.dumps(proposal.coordinates).decode())
    sweep_repo.assign(conn, sweep.id, agent.id, name, params, coordinates,
                      proposal.grid_index)
    args = {key: {"value": value} for key, value in proposal.values.items()}
    return _command("run", run_id=name, args=args, program=spec.program)


def _command(kind: str, **fields: Any) -> dict[str, Any]:
    return {"id": secrets.token_hex(8), "type": kind, **fields}


def metric_of(run: Run, metric: str) -> float | None:
    """The sweep metric in a run's summary (a number, or a summary's last value)."""
    summary = loads_object(run.summary) or {}
    value: Any = summary.get(metric)
    if value is None and "." in metric:
        value = summary
        for part in metric.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        return None
    return float(value) if math.isfinite(value) else None


def metric_series(storage: Storage, run_id: int, metric: str, limit: int) -> list[float]:
    """The first ``limit`` logged values of a run's metric, in step order (every tier)."""
    out: list[float] = []
    with open_history(storage, run_id) as view:
        for row in view.rows(None, None, [metric]):
            value = row.data.get(metric)
            if isinstance(value, _NUMBER) and not isinstance(value, bool):
                out.append(float(value))
                if len(out) >= limit:
                    break
    return out


def _trials(conn: Connection, sweep: Sweep, spec: SweepSpec) -> list[Trial]:
    if spec.method == "random":  # a random proposal depends only on how many came before
        return [Trial()] * sweep_repo.count_assignments(conn, sweep.id)
    handed = sweep_repo.assignments(conn, sweep.id)
    metrics: dict[str, float | None] = {}
    if spec.metric is not None and spec.method == "bayes":
        metrics = {r.name: metric_of(r, spec.metric) for r in sweep_repo.sweep_runs_of(conn, sweep)}
    return [Trial(grid_index=a.grid_index,
                  coordinates=None if a.coordinates is None else orjson.loads(a.coordinates),
                  metric=metrics.get(a.run_name)) for a in handed]


def _early_terminated(storage: Storage, agent_id: int, running: list[str]) -> list[str]:
    """The agent's running runs that hyperband stops (read before the heartbeat's write)."""
    with storage.db.read() as conn:
        agent = sweep_repo.get_agent(conn, agent_id)
        sweep = None if agent is None else sweep_repo.get_sweep(conn, agent.sweep_id)
        if sweep is None or sweep.state != SweepState.RUNNING.value:
            return []
        try:
            spec = spec_of_text(sweep.config)
        except InvalidInput:
            return []
        runs = sweep_repo.sweep_runs_of(conn, sweep)
    hb, metric = spec.early_terminate, spec.metric
    if hb is None or metric is None:
        return []
    limit = iterations_needed(hb)
    series = {r.name: metric_series(storage, r.id, metric, limit) for r in runs}
    return [name for name in running if name in series
            and should_stop(hb, spec.minimize, series[name],
                            [s for other, s in series.items() if other != name])]


def _stop_live_runs(conn: Connection, sweep: Sweep, names: list[str] | None = None) -> None:
    """Ask the sweep's live runs to stop (the SDK learns it from file_stream)."""
    for run in sweep_repo.sweep_runs_of(conn, sweep, names):
        if RunState(run.state) in LIVE_STATES:
            run_repo.request_stop(conn, run.id)


def _mark_killed(conn: Connection, sweep: Sweep, agent: SweepAgent,
                 running: list[str]) -> None:
    """Runs of a canceled sweep that the agent no longer runs but that never said they
    ended (the agent killed them) are killed, not left running until the crash check."""
    names = [n for n in sweep_repo.agent_run_names(conn, agent.id) if n not in running]
    for run in sweep_repo.sweep_runs_of(conn, sweep, names):
        if RunState(run.state) in LIVE_STATES:
            run_repo.set_run_columns(conn, run.id, state=RunState.KILLED.value)
