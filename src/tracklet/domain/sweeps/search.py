"""The search methods: the next parameter set of a sweep from what it has run so far.

The controller keeps no state between calls: every proposal is a pure function of the
sweep's config, its seed and the trials already handed out (stored in the database), so any
server process can answer any agent.

* grid: the cartesian product of the parameters' values, handed out in order; a point is
  never handed out twice (the caller stores the index under a unique constraint).
* random: each parameter drawn from its distribution with a generator seeded by the sweep's
  seed and the number of trials so far.
* bayes: optuna's TPE sampler (multivariate), told every finished trial's coordinates and
  metric, asks for the next coordinates (see :meth:`.space.Param.coordinate`).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tracklet.domain.sweeps.config import SweepSpec
from tracklet.domain.sweeps.space import Coordinate, nest

# TPE's first trials are random: few, so the model starts to help early in a short sweep.
BAYES_STARTUP_TRIALS = 5


@dataclass(frozen=True)
class Trial:
    """A parameter set already handed out, and the metric its run reported (if any yet)."""

    grid_index: int | None = None
    coordinates: dict[str, float] | None = None
    metric: float | None = None


@dataclass(frozen=True)
class Proposal:
    """The parameters of the next run: nested values, and what the search needs to remember."""

    values: dict[str, Any]
    grid_index: int | None = None
    coordinates: dict[str, float] | None = None


def grid_size(spec: SweepSpec) -> int:
    """How many points the grid of a grid sweep has."""
    return math.prod(len(p.grid_values()) for p in spec.params)


def expected_run_count(spec: SweepSpec) -> int | None:
    """How many runs the sweep will hand out: the grid size and run_cap bound it."""
    total = grid_size(spec) if spec.method == "grid" else None
    if spec.run_cap is not None:
        total = spec.run_cap if total is None else min(total, spec.run_cap)
    return total


def propose(spec: SweepSpec, trials: Sequence[Trial], seed: int) -> Proposal | None:
    """The next parameter set; None when the grid is exhausted."""
    if spec.method == "grid":
        return _grid(spec, trials)
    if spec.method == "random":
        return _random(spec, len(trials), seed)
    return _bayes(spec, trials, seed)


def _grid(spec: SweepSpec, trials: Sequence[Trial]) -> Proposal | None:
    taken = {t.grid_index for t in trials if t.grid_index is not None}
    axes = [p.grid_values() for p in spec.params]
    for index, point in enumerate(itertools.product(*axes)):
        if index not in taken:
            return Proposal(nest({p.path: v for p, v in zip(spec.params, point, strict=True)}),
                            grid_index=index)
    return None


def _random(spec: SweepSpec, count: int, seed: int) -> Proposal:
    rng = np.random.default_rng([seed, count])
    return Proposal(nest({p.path: p.sample(rng) for p in spec.params}))


def _bayes(spec: SweepSpec, trials: Sequence[Trial], seed: int) -> Proposal:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    coords = {p.key: c for p in spec.params if (c := p.coordinate()) is not None}
    space = {k: _distribution(c) for k, c in coords.items()}
    with warnings.catch_warnings():
        # multivariate TPE is flagged experimental; it models the parameters jointly.
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(
            seed=(seed * 1_000_003 + len(trials)) % 2**32,
            n_startup_trials=BAYES_STARTUP_TRIALS, multivariate=True)
    study = optuna.create_study(
        direction="minimize" if spec.minimize else "maximize", sampler=sampler)
    for t in trials:
        if t.coordinates is None or t.metric is None or not math.isfinite(t.metric):
            continue
        params = {k: v for k, v in t.coordinates.items() if k in coords}
        if set(params) != set(coords) or not all(_inside(coords[k], v)
                                                 for k, v in params.items()):
            continue  # a trial of an earlier config (wandb sweep --update): not comparable
        study.add_trial(optuna.trial.create_trial(
            params={k: int(v) if coords[k].kind != "float" else v for k, v in params.items()},
            distributions=space, value=t.metric))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        trial = study.ask(space)
    coordinates = {k: float(v) for k, v in trial.params.items()}
    values = {p.path: p.from_coordinate(coordinates.get(p.key, 0.0)) for p in spec.params}
    return Proposal(nest(values), coordinates=coordinates)


def _distribution(c: Coordinate) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if c.kind == "choice":
        return CategoricalDistribution(tuple(range(c.choices)))
    if c.kind == "int":
        return IntDistribution(int(c.low), int(c.high))
    return FloatDistribution(c.low, c.high, log=c.log)


def _inside(c: Coordinate, v: float) -> bool:
    if c.kind == "choice":
        return float(v).is_integer() and 0 <= v < c.choices
    return c.low <= v <= c.high
