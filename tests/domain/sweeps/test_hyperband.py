"""Hyperband: a run is stopped at a bracket when it is not among the best 1/eta there."""

from __future__ import annotations

from tracklet.domain.sweeps.config import Hyperband
from tracklet.domain.sweeps.hyperband import should_stop, value_at

HB = Hyperband(brackets=(2, 4), eta=2.0, strict=False)
OTHERS = [[1.0, 0.5, 0.4, 0.3], [0.9, 0.6, 0.5, 0.45], [0.8, 0.7, 0.6, 0.55]]


def test_judged_only_at_brackets_reached() -> None:
    assert not should_stop(HB, True, [9.0], OTHERS)
    assert should_stop(HB, True, [9.0, 8.0], OTHERS)


def test_good_runs_go_on_and_maximize_flips() -> None:
    assert not should_stop(HB, True, [0.4, 0.3, 0.2, 0.1], OTHERS)
    assert should_stop(HB, False, [0.4, 0.3], OTHERS)  # the lowest is the worst now
    assert not should_stop(HB, False, [2.0, 3.0], OTHERS)


def test_later_bracket_and_strict_mode() -> None:
    late = [0.1, 0.2, 0.9, 0.9]  # best at iteration 2, poor at iteration 4
    assert not should_stop(HB, True, late, OTHERS)
    assert should_stop(Hyperband(brackets=(2, 4), eta=2.0, strict=True), True, late, OTHERS)
    assert value_at([3.0, 1.0, 2.0], 3, strict=False) == 1.0
    assert value_at([3.0, 1.0, 2.0], 3, strict=True) == 2.0
    assert value_at([3.0], 2, strict=True) is None


def test_a_lone_run_is_never_stopped() -> None:
    assert not should_stop(HB, True, [9.0, 9.0, 9.0, 9.0], [])
