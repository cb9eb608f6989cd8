"""Sweep parameters: the distributions of W&B's sweep configuration.

Each :class:`Param` is one leaf of the (possibly nested) ``parameters`` tree. It can

* draw a value (``sample``; the random method),
* enumerate its values (``grid_values``; the grid method, discrete parameters only),
* describe a search coordinate and map it to a value (``coordinate`` / ``from_coordinate``;
  the bayes method searches these coordinates, see :mod:`.search`).

Distributions, as W&B documents them (``q`` rounds to a multiple of q, default 1):
constant, categorical, categorical_w (weighted), int_uniform, uniform, q_uniform,
log_uniform (min/max are natural-log exponents), log_uniform_values (min/max are values),
q_log_uniform(_values), inv_log_uniform(_values) (1/X is log-uniform), normal, q_normal,
log_normal, q_log_normal, beta, q_beta.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

DISTRIBUTIONS = (
    "constant", "categorical", "categorical_w", "int_uniform", "uniform", "q_uniform",
    "log_uniform", "log_uniform_values", "q_log_uniform", "q_log_uniform_values",
    "inv_log_uniform", "inv_log_uniform_values", "normal", "q_normal", "log_normal",
    "q_log_normal", "beta", "q_beta",
)
"""Every distribution a sweep parameter may name."""

# The bayes coordinate of a normal parameter is its quantile, kept off the infinite tails.
_TAIL = 1e-4


@dataclass(frozen=True)
class Coordinate:
    """One search coordinate of the bayes method: an int or float range or a choice index."""

    kind: str  # "int", "float" or "choice"
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    choices: int = 0


@dataclass(frozen=True)
class Param:
    """One sweep parameter: where it sits in the config and how its values are drawn."""

    path: tuple[str, ...]
    distribution: str
    values: tuple[Any, ...] = ()
    probabilities: tuple[float, ...] | None = None
    min: float = 0.0
    max: float = 0.0
    mu: float = 0.0
    sigma: float = 1.0
    a: float = 1.0
    b: float = 1.0
    q: float = 1.0
    integral: bool = False  # int bounds and q: quantized values are ints

    @property
    def key(self) -> str:
        """The parameter's dotted path, a stable key for stored proposals."""
        return ".".join(self.path)

    # -- random --------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Any:
        """Draw one value."""
        d = self.distribution
        if d == "constant":
            return self.values[0]
        if d in ("categorical", "categorical_w"):
            index = int(rng.choice(len(self.values), p=self.probabilities))
            return self.values[index]
        if d == "int_uniform":
            return int(rng.integers(int(self.min), int(self.max) + 1))
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            return self._finish(float(rng.normal(self.mu, self.sigma)))
        if d in ("beta", "q_beta"):
            return self._finish(float(rng.beta(self.a, self.b)))
        return self._finish(float(rng.uniform(self.min, self.max)))

    def _finish(self, x: float) -> Any:
        """The value of a continuous draw ``x`` of the underlying uniform/normal/beta."""
        d = self.distribution
        if d in ("log_uniform", "q_log_uniform", "log_normal", "q_log_normal"):
            x = math.exp(x)
        elif d in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
            # x was drawn uniformly in [min, max]: map it to a log-uniform value instead.
            lo, hi = math.log(self.min), math.log(self.max)
            x = math.exp(lo + (x - self.min) / (self.max - self.min) * (hi - lo))
        elif d == "inv_log_uniform":
            x = math.exp(-x)
        if d.startswith("q_"):
            x = round(x / self.q) * self.q
            if self.integral:
                return int(x)
        return x

    # -- grid ----------------------------------------------------------------------------

    @property
    def enumerable(self) -> bool:
        """Whether the grid method can list this parameter's values."""
        return self.distribution in (
            "constant", "categorical", "categorical_w", "int_uniform", "q_uniform")

    def grid_values(self) -> list[Any]:
        """Every value of a discrete parameter, in order."""
        d = self.distribution
        if d == "int_uniform":
            return list(range(int(self.min), int(self.max) + 1))
        if d == "q_uniform":
            first = math.ceil(self.min / self.q - 1e-9)
            last = math.floor(self.max / self.q + 1e-9)
            out: list[Any] = []
            for i in range(first, last + 1):
                x = i * self.q
                out.append(round(x) if self.integral else x)
            return out
        return list(self.values)

    # -- bayes ---------------------------------------------------------------------------

    def coordinate(self) -> Coordinate | None:
        """The search coordinate of this parameter; None for a constant."""
        d = self.distribution
        if d == "constant":
            return None
        if d in ("categorical", "categorical_w"):
            return Coordinate("choice", choices=len(self.values))
        if d == "int_uniform":
            return Coordinate("int", self.min, self.max)
        if d in ("uniform", "q_uniform"):
            return Coordinate("float", self.min, self.max)
        if d in ("log_uniform", "q_log_uniform"):
            return Coordinate("float", math.exp(self.min), math.exp(self.max), log=True)
        if d == "inv_log_uniform":
            return Coordinate("float", math.exp(-self.max), math.exp(-self.min), log=True)
        if d in ("log_uniform_values", "q_log_uniform_values", "inv_log_uniform_values"):
            return Coordinate("float", self.min, self.max, log=True)
        if d in ("beta", "q_beta"):
            return Coordinate("float", 0.0, 1.0)
        return Coordinate("float", _TAIL, 1.0 - _TAIL)  # normal family: the quantile

    def from_coordinate(self, x: float) -> Any:
        """The parameter value at search coordinate ``x``."""
        d = self.distribution
        if d == "constant":
            return self.values[0]
        if d in ("categorical", "categorical_w"):
            return self.values[int(x)]
        if d == "int_uniform":
            return int(x)
        if d in ("normal", "q_normal", "log_normal", "q_log_normal"):
            value = NormalDist(self.mu, self.sigma).inv_cdf(float(x))
            if d.endswith("log_normal"):
                value = math.exp(value)
        else:
            value = float(x)
        if d.startswith("q_"):
            value = round(value / self.q) * self.q
            if self.integral:
                return int(value)
        return value


def nest(values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """Parameter values keyed by path, as the nested dict the run's config gets."""
    out: dict[str, Any] = {}
    for path, value in values.items():
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out
