"""The sweep search benchmark's test functions are the standard ones (their known minima at
their known minimisers), and a quick comparison runs."""

from __future__ import annotations

import math

import pytest
from benchmarks.sweep_search import FUNCTIONS, branin, hartmann6, measure


def test_branin_minima() -> None:
    for x1, x2 in ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475)):
        assert branin({"x1": x1, "x2": x2}) == pytest.approx(0.397887, abs=1e-5)
    assert branin({"x1": 0.0, "x2": 0.0}) > 1


def test_hartmann6_minimum() -> None:
    best = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)
    value = hartmann6({f"x{i + 1}": v for i, v in enumerate(best)})
    assert value == pytest.approx(FUNCTIONS["Hartmann-6 (6-D)"][2], abs=1e-4)


def test_quick_comparison_table() -> None:
    table, _seconds = measure([6], seeds=1)
    assert table.count("\n") == 3  # header, rule, one row per function
