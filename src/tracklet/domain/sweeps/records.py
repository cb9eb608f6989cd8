"""Sweep, agent and alert records, and the sweep state rules of ``wandb sweep --pause`` etc."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from tracklet.errors import InvalidInput


class SweepState(str, enum.Enum):
    """The states W&B reports for a sweep (upper case, as the SDK compares them)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"
    CANCELED = "CANCELED"


#: target state -> the states it may be reached from (``wandb sweep --resume/--pause/...``).
SWEEP_TRANSITIONS: dict[SweepState, frozenset[SweepState]] = {
    SweepState.RUNNING: frozenset(SweepState),
    SweepState.PAUSED: frozenset({SweepState.RUNNING, SweepState.PAUSED, SweepState.PENDING}),
    SweepState.FINISHED: frozenset({SweepState.RUNNING, SweepState.PAUSED, SweepState.PENDING,
                                    SweepState.FINISHED}),
    SweepState.CANCELED: frozenset({SweepState.RUNNING, SweepState.PAUSED, SweepState.PENDING,
                                    SweepState.FINISHED, SweepState.CANCELED}),
    SweepState.PENDING: frozenset({SweepState.PENDING}),
}


def check_sweep_transition(current: str, target: str) -> SweepState:
    """The state ``target`` names, if a sweep in ``current`` may move to it."""
    try:
        goal = SweepState(target.upper())
    except ValueError:
        raise InvalidInput(
            f"invalid sweep state {target!r}: expected one of "
            + ", ".join(s.value for s in SweepState)) from None
    if SweepState(current) not in SWEEP_TRANSITIONS[goal]:
        raise InvalidInput(f"a {current.lower()} sweep cannot become {goal.value.lower()}")
    return goal


@dataclass(frozen=True)
class Sweep:
    """A sweep of a project."""

    id: int
    project_id: int
    entity: str
    project: str
    name: str
    display_name: str | None
    description: str | None
    config: str
    method: str
    state: str
    seed: int
    created_at: float
    updated_at: float
    heartbeat_at: float | None


@dataclass(frozen=True)
class SweepAgent:
    """An agent registered on a sweep (``wandb agent``, ``wandb.agent``)."""

    id: int
    sweep_id: int
    name: str
    host: str
    state: str
    created_at: float
    heartbeat_at: float
    total_runs: int


@dataclass(frozen=True)
class SweepAssignment:
    """A parameter set handed to an agent for the run ``run_name``."""

    run_name: str
    agent_id: int | None
    params: str
    coordinates: str | None
    grid_index: int | None
    created_at: float


@dataclass(frozen=True)
class RunAlert:
    """An alert a run raised with ``run.alert``."""

    id: int
    run_id: int
    title: str
    text: str
    severity: str
    wait_duration: float
    created_at: float


@dataclass(frozen=True)
class AlertDelivery:
    """One destination's delivery of an alert: pending, delivered or failed."""

    id: int
    alert_id: int
    destination: str
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    delivered_at: float | None
