"""The sweep configuration (the YAML of ``wandb sweep`` / the dict of ``wandb.sweep``).

:func:`parse_sweep_config` validates it and answers a :class:`SweepSpec`, or raises
InvalidInput naming what is wrong, in the words of W&B's sweep documentation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import yaml

from tracklet.domain.sweeps.space import DISTRIBUTIONS, Param
from tracklet.errors import InvalidInput

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")

# Top-level keys W&B's sweep schema knows; any other is answered as a validation warning.
_KNOWN_KEYS = frozenset({
    "program", "method", "metric", "parameters", "early_terminate", "name", "description",
    "command", "project", "entity", "run_cap", "controller", "scheduler", "settings", "job",
    "image_uri", "apiVersion", "launch", "resources",
})


@dataclass(frozen=True)
class Hyperband:
    """``early_terminate: {type: hyperband, ...}``: the iterations at which runs are judged."""

    brackets: tuple[int, ...]
    eta: float
    strict: bool


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep configuration."""

    method: str
    metric: str | None
    goal: str
    params: tuple[Param, ...]
    run_cap: int | None
    program: str | None
    early_terminate: Hyperband | None
    warnings: tuple[str, ...] = ()

    @property
    def minimize(self) -> bool:
        """Whether a lower metric is better."""
        return self.goal == "minimize"


# libyaml's loader when PyYAML was built with it: heartbeats parse the config every time.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_config_text(text: str) -> dict[str, Any]:
    """The config document the SDK sent (YAML, or JSON which is YAML too)."""
    try:
        doc = yaml.load(text, Loader=_LOADER)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"sweep config is not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidInput("sweep config must be a mapping")
    return doc


@functools.lru_cache(maxsize=256)
def spec_of_text(text: str) -> SweepSpec:
    """:func:`parse_sweep_config` of a stored config text, cached (a sweep's heartbeats all
    parse the same text; SweepSpec is immutable)."""
    return parse_sweep_config(load_config_text(text))


def parse_sweep_config(doc: dict[str, Any]) -> SweepSpec:
    """Validate a sweep config; InvalidInput says what is wrong."""
    method = doc.get("method")
    if method is None:
        raise InvalidInput("sweep config needs a method: one of grid, random, bayes")
    if method not in METHODS:
        raise InvalidInput(
            f"invalid sweep method {method!r}: expected one of grid, random, bayes")
    metric, goal = _metric(doc.get("metric"))
    if method == "bayes" and metric is None:
        raise InvalidInput("the bayes method needs a metric: metric: {name: ..., goal: ...}")
    raw = doc.get("parameters")
    if not isinstance(raw, dict) or not raw:
        raise InvalidInput("sweep config needs parameters: a mapping of parameter names")
    params = tuple(_params(raw, ()))
    if method == "grid":
        for p in params:
            if not p.enumerable:
                raise InvalidInput(
                    f"parameter {p.key!r} has the continuous distribution {p.distribution!r}: "
                    "the grid method needs values, value, int_uniform or q_uniform")
    run_cap = doc.get("run_cap")
    if run_cap is not None and (isinstance(run_cap, bool) or not isinstance(run_cap, int)
                                or run_cap < 1):
        raise InvalidInput("run_cap must be a positive integer")
    program = doc.get("program")
    if program is not None and not isinstance(program, str):
        raise InvalidInput("program must be a string")
    command = doc.get("command")
    if command is not None and not isinstance(command, list):
        raise InvalidInput("command must be a list")
    early = _early_terminate(doc.get("early_terminate"))
    if early is not None and metric is None:
        raise InvalidInput("early_terminate needs a metric to judge runs by")
    warnings = tuple(f"unknown sweep config key {k!r}" for k in doc if k not in _KNOWN_KEYS)
    return SweepSpec(method=method, metric=metric, goal=goal, params=params, run_cap=run_cap,
                     program=program, early_terminate=early, warnings=warnings)


def _metric(raw: Any) -> tuple[str | None, str]:
    if raw is None:
        return None, "minimize"
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise InvalidInput("metric must be a mapping with a name: metric: {name: ..., goal: ...}")
    goal = raw.get("goal", "minimize")
    if goal not in GOALS:
        raise InvalidInput(f"invalid metric goal {goal!r}: expected minimize or maximize")
    return raw["name"], goal


def _params(raw: dict[str, Any], prefix: tuple[str, ...]) -> list[Param]:
    out: list[Param] = []
    for name, spec in raw.items():
        path = (*prefix, str(name))
        label = ".".join(path)
        if not isinstance(spec, dict):
            raise InvalidInput(
                f"parameter {label!r} must be a mapping (value, values, distribution, min/max)")
        if "parameters" in spec:
            nested = spec["parameters"]
            if not isinstance(nested, dict) or not nested:
                raise InvalidInput(f"parameter {label!r}: parameters must be a mapping")
            out.extend(_params(nested, path))
        else:
            out.append(_param(path, label, spec))
    return out


def _number(label: str, spec: dict[str, Any], key: str, default: float | None = None) -> float:
    value = spec.get(key, default)
    if value is None:
        raise InvalidInput(f"parameter {label!r} needs {key}")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInput(f"parameter {label!r}: {key} must be a finite number")
    return float(value)


def _infer(label: str, spec: dict[str, Any]) -> str:
    if "value" in spec:
        return "constant"
    if "values" in spec:
        return "categorical_w" if "probabilities" in spec else "categorical"
    if "min" in spec and "max" in spec:
        ints = all(isinstance(spec[k], int) and not isinstance(spec[k], bool)
                   for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    if "mu" in spec or "sigma" in spec:
        return "normal"
    raise InvalidInput(
        f"parameter {label!r} needs value, values, min/max or a distribution")


def _param(path: tuple[str, ...], label: str, spec: dict[str, Any]) -> Param:
    dist = spec.get("distribution") or _infer(label, spec)
    if dist not in DISTRIBUTIONS:
        raise InvalidInput(f"parameter {label!r}: unknown distribution {dist!r}")
    if dist == "constant":
        if "value" not in spec:
            raise InvalidInput(f"parameter {label!r}: a constant needs value")
        return Param(path, dist, values=(spec["value"],))
    if dist in ("categorical", "categorical_w"):
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise InvalidInput(f"parameter {label!r}: values must be a non-empty list")
        return Param(path, dist, values=tuple(values),
                     probabilities=_probabilities(label, spec, len(values), dist))
    q = _number(label, spec, "q", 1.0)
    if q <= 0:
        raise InvalidInput(f"parameter {label!r}: q must be positive")
    if dist in ("normal", "q_normal", "log_normal", "q_log_normal"):
        mu = _number(label, spec, "mu", 0.0)
        sigma = _number(label, spec, "sigma", 1.0)
        if sigma <= 0:
            raise InvalidInput(f"parameter {label!r}: sigma must be positive")
        return Param(path, dist, mu=mu, sigma=sigma, q=q)
    if dist in ("beta", "q_beta"):
        a, b = _number(label, spec, "a", 1.0), _number(label, spec, "b", 1.0)
        if a <= 0 or b <= 0:
            raise InvalidInput(f"parameter {label!r}: a and b must be positive")
        return Param(path, dist, a=a, b=b, q=q)
    lo, hi = _number(label, spec, "min"), _number(label, spec, "max")
    if not lo < hi:
        raise InvalidInput(f"parameter {label!r}: min ({spec['min']}) must be less than max "
                           f"({spec['max']})")
    if dist.endswith("_values") and lo <= 0:
        raise InvalidInput(f"parameter {label!r}: {dist} needs min > 0")
    if dist == "int_uniform" and not (float(lo).is_integer() and float(hi).is_integer()):
        raise InvalidInput(f"parameter {label!r}: int_uniform needs integer min and max")
    integral = all(isinstance(spec.get(k, 1), int) and not isinstance(spec.get(k, 1), bool)
                   for k in ("min", "max", "q"))
    return Param(path, dist, min=lo, max=hi, q=q, integral=integral and dist.startswith("q_"))


def _probabilities(
    label: str, spec: dict[str, Any], n: int, dist: str
) -> tuple[float, ...] | None:
    raw = spec.get("probabilities")
    if raw is None:
        if dist == "categorical_w":
            raise InvalidInput(f"parameter {label!r}: categorical_w needs probabilities")
        return None
    if (not isinstance(raw, list) or len(raw) != n
            or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and p >= 0
                       for p in raw)):
        raise InvalidInput(
            f"parameter {label!r}: probabilities must be {n} non-negative numbers")
    total = float(sum(raw))
    if not math.isclose(total, 1.0, abs_tol=1e-6):
        raise InvalidInput(f"parameter {label!r}: probabilities must sum to 1 (got {total})")
    return tuple(float(p) / total for p in raw)


def _early_terminate(raw: Any) -> Hyperband | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") != "hyperband":
        raise InvalidInput("early_terminate supports type: hyperband")
    eta = raw.get("eta", 3)
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or eta <= 1:
        raise InvalidInput("early_terminate: eta must be a number greater than 1")
    s = raw.get("s", 0 if "min_iter" in raw else None)
    min_iter, max_iter = raw.get("min_iter"), raw.get("max_iter")
    for key, value in (("min_iter", min_iter), ("max_iter", max_iter), ("s", s)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or value < 0):
            raise InvalidInput(f"early_terminate: {key} must be a non-negative integer")
    brackets: list[int]
    if min_iter is not None:
        if min_iter < 1:
            raise InvalidInput("early_terminate: min_iter must be at least 1")
        count = s if s else (3 if max_iter is None else 1 + int(math.log(max_iter / min_iter,
                                                                         eta) + 1e-9))
        brackets = [round(min_iter * eta ** i) for i in range(max(count, 1))]
    elif max_iter is not None and s:
        brackets = sorted(round(max_iter * eta ** -i) for i in range(1, s + 1))
        if brackets[0] < 1:
            raise InvalidInput("early_terminate: max_iter / eta**s must be at least 1")
    else:
        raise InvalidInput("early_terminate needs min_iter, or max_iter and s")
    return Hyperband(brackets=tuple(brackets), eta=float(eta), strict=bool(raw.get("strict")))
