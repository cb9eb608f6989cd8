"""Sweeps, their agents and the parameter sets handed out (tables of migration 0012)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from tracklet.domain.records import Project, Run
from tracklet.domain.sweeps.records import Sweep, SweepAgent, SweepAssignment
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import (
    entities,
    projects,
    runs,
    sweep_agents,
    sweep_runs,
    sweeps,
)

_NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_name() -> str:
    """A fresh sweep or agent name: 8 lower-case letters and digits, as W&B's look."""
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(8))


def _sweep_select() -> Select[Any]:
    return (select(sweeps.c.id, sweeps.c.project_id, entities.c.name.label("entity"),
                   projects.c.name.label("project"), sweeps.c.name, sweeps.c.display_name,
                   sweeps.c.description, sweeps.c.config, sweeps.c.method, sweeps.c.state,
                   sweeps.c.seed, sweeps.c.created_at, sweeps.c.updated_at,
                   sweeps.c.heartbeat_at)
            .join(projects, projects.c.id == sweeps.c.project_id)
            .join(entities, entities.c.id == projects.c.entity_id))


def _sweep(row: Any) -> Sweep:
    return Sweep(**row._mapping)


def create_sweep(conn: Connection, project: Project, *, config: str, method: str, state: str,
                 user_id: int | None, display_name: str | None,
                 description: str | None) -> Sweep:
    """A new sweep in ``project`` with a fresh name and seed."""
    now = time.time()
    for _ in range(8):
        name = new_name()
        if find_sweep(conn, project.id, name) is None:
            break
    sweep_id = conn.execute(insert(sweeps).values(
        project_id=project.id, name=name, display_name=display_name, description=description,
        config=config, method=method, state=state, seed=secrets.randbelow(2**31),
        user_id=user_id, created_at=now, updated_at=now,
    ).returning(sweeps.c.id)).scalar_one()
    found = get_sweep(conn, sweep_id)
    assert found is not None
    return found


def find_sweep(conn: Connection, project_id: int, name: str) -> Sweep | None:
    """The sweep ``name`` of a project, or None."""
    row = conn.execute(_sweep_select().where(sweeps.c.project_id == project_id,
                                             sweeps.c.name == name)).first()
    return _sweep(row) if row else None


def get_sweep(conn: Connection, sweep_id: int, *, lock: bool = False) -> Sweep | None:
    """The sweep with this primary key, or None; ``lock`` holds its row until commit
    (PostgreSQL), so heartbeats of one sweep hand out runs one at a time."""
    if lock:
        conn.execute(select(sweeps.c.id).where(sweeps.c.id == sweep_id).with_for_update())
    row = conn.execute(_sweep_select().where(sweeps.c.id == sweep_id)).first()
    return _sweep(row) if row else None


def update_sweep(conn: Connection, sweep_id: int, **values: Any) -> None:
    """Set columns of a sweep (and its updated_at)."""
    conn.execute(update(sweeps).where(sweeps.c.id == sweep_id)
                 .values(updated_at=time.time(), **values))


def list_sweeps(conn: Connection, project_id: int, after_id: int | None,
                limit: int) -> list[Sweep]:
    """Sweeps of a project, newest first, paged by primary key."""
    q = _sweep_select().where(sweeps.c.project_id == project_id)
    if after_id is not None:
        q = q.where(sweeps.c.id < after_id)
    return [_sweep(r) for r in conn.execute(q.order_by(sweeps.c.id.desc()).limit(limit))]


def count_sweeps(conn: Connection, project_id: int) -> int:
    """Number of sweeps in a project."""
    return int(conn.execute(select(func.count()).select_from(sweeps)
                            .where(sweeps.c.project_id == project_id)).scalar_one())


# -- agents -----------------------------------------------------------------------------------


def _agent(row: Any) -> SweepAgent:
    return SweepAgent(**row._mapping)


_AGENT_COLS = (sweep_agents.c.id, sweep_agents.c.sweep_id, sweep_agents.c.name,
               sweep_agents.c.host, sweep_agents.c.state, sweep_agents.c.created_at,
               sweep_agents.c.heartbeat_at, sweep_agents.c.total_runs)


def create_agent(conn: Connection, sweep_id: int, host: str, user_id: int | None) -> SweepAgent:
    """Register an agent on a sweep."""
    now = time.time()
    agent_id = conn.execute(insert(sweep_agents).values(
        sweep_id=sweep_id, name=new_name(), host=host, state="RUNNING", user_id=user_id,
        created_at=now, heartbeat_at=now, total_runs=0,
    ).returning(sweep_agents.c.id)).scalar_one()
    found = get_agent(conn, agent_id)
    assert found is not None
    return found


def get_agent(conn: Connection, agent_id: int) -> SweepAgent | None:
    """The agent with this primary key, or None."""
    row = conn.execute(select(*_AGENT_COLS).where(sweep_agents.c.id == agent_id)).first()
    return _agent(row) if row else None


def find_agent(conn: Connection, sweep_id: int, name: str) -> SweepAgent | None:
    """The agent ``name`` of a sweep, or None."""
    row = conn.execute(select(*_AGENT_COLS).where(sweep_agents.c.sweep_id == sweep_id,
                                                  sweep_agents.c.name == name)).first()
    return _agent(row) if row else None


def list_agents(conn: Connection, sweep_id: int) -> list[SweepAgent]:
    """The agents of a sweep, oldest first."""
    return [_agent(r) for r in conn.execute(
        select(*_AGENT_COLS).where(sweep_agents.c.sweep_id == sweep_id)
        .order_by(sweep_agents.c.id))]


def touch_agent(conn: Connection, agent_id: int, *, state: str, new_runs: int = 0) -> None:
    """Record a heartbeat of the agent."""
    conn.execute(update(sweep_agents).where(sweep_agents.c.id == agent_id).values(
        heartbeat_at=time.time(), state=state,
        total_runs=sweep_agents.c.total_runs + new_runs))


# -- parameter sets handed out ----------------------------------------------------------------


def assignments(conn: Connection, sweep_id: int) -> list[SweepAssignment]:
    """Every parameter set the sweep handed out, oldest first."""
    rows = conn.execute(
        select(sweep_runs.c.run_name, sweep_runs.c.agent_id, sweep_runs.c.params,
               sweep_runs.c.coordinates, sweep_runs.c.grid_index, sweep_runs.c.created_at)
        .where(sweep_runs.c.sweep_id == sweep_id).order_by(sweep_runs.c.id))
    return [SweepAssignment(**r._mapping) for r in rows]


def count_assignments(conn: Connection, sweep_id: int) -> int:
    """How many parameter sets the sweep handed out."""
    return int(conn.execute(select(func.count()).select_from(sweep_runs)
                            .where(sweep_runs.c.sweep_id == sweep_id)).scalar_one())


def assign(conn: Connection, sweep_id: int, agent_id: int, run_name: str, params: str,
           coordinates: str | None, grid_index: int | None) -> None:
    """Record a parameter set handed to an agent for ``run_name``."""
    conn.execute(insert(sweep_runs).values(
        sweep_id=sweep_id, run_name=run_name, agent_id=agent_id, params=params,
        coordinates=coordinates, grid_index=grid_index, created_at=time.time()))


def agent_run_names(conn: Connection, agent_id: int) -> list[str]:
    """The runs handed to an agent, oldest first."""
    return list(conn.execute(select(sweep_runs.c.run_name)
                             .where(sweep_runs.c.agent_id == agent_id)
                             .order_by(sweep_runs.c.id)).scalars())


# -- the sweep's runs -------------------------------------------------------------------------


def sweep_runs_of(conn: Connection, sweep: Sweep, names: list[str] | None = None) -> list[Run]:
    """The runs that report this sweep (UpsertBucket's ``sweep``), oldest first."""
    q = run_repo.run_select().where(runs.c.project_id == sweep.project_id,
                                    runs.c.sweep_name == sweep.name)
    if names is not None:
        q = q.where(runs.c.name.in_(names))
    return [run_repo.to_run(r) for r in conn.execute(q.order_by(runs.c.created_at, runs.c.id))]


def count_sweep_runs(conn: Connection, sweep: Sweep) -> int:
    """How many runs report this sweep."""
    return int(conn.execute(select(func.count()).select_from(runs).where(
        runs.c.project_id == sweep.project_id, runs.c.sweep_name == sweep.name)).scalar_one())


def link_runs(conn: Connection, sweep: Sweep, names: list[str]) -> int:
    """Make existing runs of the project part of the sweep (``wandb sweep -R run``)."""
    if not names:
        return 0
    result = conn.execute(update(runs).where(runs.c.project_id == sweep.project_id,
                                             runs.c.name.in_(names))
                          .values(sweep_name=sweep.name, revision=runs.c.revision + 1))
    return int(result.rowcount)
