"""Hyperband early termination (``early_terminate: {type: hyperband}``), as W&B applies it.

A run is judged at each bracket iteration it has reached (an iteration is one logged value
of the sweep's metric): its value there (the best so far, or with ``strict`` the value at
that iteration) must be among the best ``1/eta`` of the values every run of the sweep had
at that iteration, or the run is stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tracklet.domain.sweeps.config import Hyperband


def value_at(series: Sequence[float], iteration: int, strict: bool) -> float | None:
    """A run's metric at ``iteration`` (1-based); None before it got there."""
    if len(series) < iteration:
        return None
    return series[iteration - 1] if strict else min(series[:iteration])


def should_stop(hb: Hyperband, minimize: bool, series: Sequence[float],
                others: Sequence[Sequence[float]]) -> bool:
    """Whether the run whose metric went ``series`` is stopped, next to the sweep's
    ``others`` (every other run's series, finished or not)."""
    sign = 1.0 if minimize else -1.0
    mine = [sign * v for v in series]
    theirs = [[sign * v for v in s] for s in others]
    for band in hb.brackets:
        value = value_at(mine, band, hb.strict)
        if value is None:
            break
        peers = [v for s in theirs if (v := value_at(s, band, hb.strict)) is not None]
        if not peers:
            continue
        threshold = float(np.quantile([*peers, value], 1.0 / hb.eta))
        if value > threshold:
            return True
    return False


def iterations_needed(hb: Hyperband) -> int:
    """How many values of a run's metric the judgement reads at most."""
    return max(hb.brackets)
