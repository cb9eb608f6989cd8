"""Sweep config validation: what W&B accepts parses, anything else is a clear InvalidInput."""

from __future__ import annotations

from typing import Any

import pytest

from tracklet.domain.sweeps.config import load_config_text, parse_sweep_config
from tracklet.domain.sweeps.records import check_sweep_transition
from tracklet.errors import InvalidInput


def test_a_full_config_parses() -> None:
    spec = parse_sweep_config(load_config_text("""
program: train.py
method: bayes
metric: {name: val/loss, goal: minimize}
run_cap: 10
early_terminate: {type: hyperband, min_iter: 3, eta: 2}
parameters:
  lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  epochs: {value: 5}
  batch: {values: [16, 32]}
  optimizer:
    parameters:
      momentum: {min: 0.0, max: 0.99}
      nesterov: {values: [true, false]}
command:
  - ${env}
  - ${interpreter}
  - ${program}
  - ${args}
"""))
    assert spec.method == "bayes" and spec.metric == "val/loss" and spec.minimize
    assert spec.run_cap == 10 and spec.program == "train.py"
    assert [p.key for p in spec.params] == [
        "lr", "epochs", "batch", "optimizer.momentum", "optimizer.nesterov"]
    assert spec.early_terminate is not None
    assert spec.early_terminate.brackets == (3, 6, 12)
    assert spec.warnings == ()


def test_inferred_distributions_and_unknown_keys_warn() -> None:
    spec = parse_sweep_config({"method": "random", "colour": "red", "parameters": {
        "a": {"min": 1, "max": 5}, "b": {"min": 0.5, "max": 1.5}, "c": {"mu": 0, "sigma": 2}}})
    assert [p.distribution for p in spec.params] == ["int_uniform", "uniform", "normal"]
    assert spec.warnings == ("unknown sweep config key 'colour'",)


@pytest.mark.parametrize(("config", "message"), [
    ({"parameters": {"a": {"value": 1}}}, "needs a method"),
    ({"method": "hill", "parameters": {"a": {"value": 1}}}, "invalid sweep method 'hill'"),
    ({"method": "bayes", "parameters": {"a": {"value": 1}}}, "bayes method needs a metric"),
    ({"method": "random", "metric": {"name": "l", "goal": "up"}, "parameters": {"a": {"value": 1}}},
     "invalid metric goal"),
    ({"method": "random"}, "needs parameters"),
    ({"method": "random", "parameters": {"a": 3}}, "must be a mapping"),
    ({"method": "random", "parameters": {"a": {}}}, "needs value, values"),
    ({"method": "random", "parameters": {"a": {"values": []}}}, "non-empty list"),
    ({"method": "random", "parameters": {"a": {"min": 3, "max": 1}}}, "less than max"),
    ({"method": "random", "parameters": {"a": {"distribution": "log_uniform_values",
                                               "min": 0.0, "max": 1.0}}}, "needs min > 0"),
    ({"method": "random", "parameters": {"a": {"distribution": "normal", "sigma": -1}}},
     "sigma must be positive"),
    ({"method": "random", "parameters": {"a": {"distribution": "beta", "a": 0}}},
     "a and b must be positive"),
    ({"method": "random", "parameters": {"a": {"distribution": "q_uniform", "min": 0,
                                               "max": 1, "q": 0}}}, "q must be positive"),
    ({"method": "random", "parameters": {"a": {"values": [1, 2], "probabilities": [0.5]}}},
     "probabilities must be 2"),
    ({"method": "random", "parameters": {"a": {"values": [1, 2],
                                               "probabilities": [0.5, 0.6]}}}, "sum to 1"),
    ({"method": "random", "parameters": {"a": {"distribution": "uniform", "min": "x",
                                               "max": 1}}}, "min must be a finite number"),
    ({"method": "grid", "parameters": {"a": {"min": 0.0, "max": 1.0}}}, "grid method needs"),
    ({"method": "random", "run_cap": 0, "parameters": {"a": {"value": 1}}}, "run_cap"),
    ({"method": "random", "metric": {"name": "l"}, "early_terminate": {"type": "median"},
      "parameters": {"a": {"value": 1}}}, "supports type: hyperband"),
    ({"method": "random", "early_terminate": {"type": "hyperband", "min_iter": 1},
      "parameters": {"a": {"value": 1}}}, "early_terminate needs a metric"),
])
def test_bad_configs_say_what_is_wrong(config: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_sweep_config(config)


def test_bad_yaml() -> None:
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_config_text("method: [")
    with pytest.raises(InvalidInput, match="must be a mapping"):
        load_config_text("- 1")


def test_state_changes() -> None:
    assert check_sweep_transition("RUNNING", "paused").value == "PAUSED"
    assert check_sweep_transition("PAUSED", "RUNNING").value == "RUNNING"
    assert check_sweep_transition("RUNNING", "CANCELED").value == "CANCELED"
    with pytest.raises(InvalidInput, match="cannot become paused"):
        check_sweep_transition("FINISHED", "PAUSED")
    with pytest.raises(InvalidInput, match="invalid sweep state"):
        check_sweep_transition("RUNNING", "SLEEPING")
