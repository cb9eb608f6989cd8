"""The chart-series oracle's semantics, by hand on the cases where they are easy to get
wrong (NaN, ±Infinity, non-numbers, replaced steps), and the same as the server's own
reduction of those values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tracklet.storage.history.series import Axis, reduce_series
from tracklet.testing.series_oracle import (
    COLUMNS,
    expected_series,
    from_json,
    mismatches,
    same_value,
)

NAN, INF = math.nan, math.inf

ROWS: list[dict[str, Any]] = [
    {"_step": 0, "v": NAN}, {"_step": 1, "v": NAN},                     # bucket 0: all NaN
    {"_step": 2, "v": 3.0}, {"_step": 3, "v": NAN},                     # 1: NaN last
    {"_step": 4, "v": -INF}, {"_step": 5, "v": 1.5},                    # 2: -Infinity is min
    {"_step": 6, "v": "text"}, {"_step": 7.0, "v": True},               # 3: nothing charted
    {"_step": 8, "v": None}, {"_step": 9, "v": INF},                    # 4: one value
    {"_step": 10, "v": 1.0}, {"_step": 10, "other": 1.0}, {"_step": 11, "v": 2.0},  # 5
    {"_step": 12.5, "v": 9.0}, {"v": 9.0},                              # not on the axis
]


def test_nan_infinity_and_non_numbers_by_hand() -> None:
    got = expected_series(ROWS, "v", 0, 2)
    assert got["bucket"] == [0, 1, 2, 4, 5]
    assert got["count"] == [2, 2, 2, 1, 1]
    assert got["firstStep"] == [0, 2, 4, 9, 11]
    assert got["lastStep"] == [1, 3, 5, 9, 11]
    assert [math.isnan(v) for v in got["min"]] == [True, False, False, False, False]
    assert got["min"][1:] == [3.0, -INF, INF, 2.0]
    assert got["max"][1:] == [3.0, 1.5, INF, 2.0]
    assert math.isnan(got["last"][0]) and math.isnan(got["last"][1])
    assert got["last"][2:] == [1.5, INF, 2.0]


def test_the_server_reduces_the_same_values_the_same_way() -> None:
    """The oracle on rows, the server's reduction on the (step, value) arrays those rows
    make: the same buckets, NaN for NaN."""
    for values in ([NAN, NAN, 3.0, NAN, -INF, 1.5, 1.0, INF, 2.0], [3, -7, 2, 2, 5]):
        rows = [{"_step": 3 * i, "v": v} for i, v in enumerate(values)]
        want = expected_series(rows, "v", 0, 4)
        s = reduce_series(np.arange(0, 3 * len(values), 3), np.array(values), Axis(0, 4, 7))
        got = dict(zip(COLUMNS, (s.bucket.tolist(), s.count.tolist(), s.first_step.tolist(),
                                 s.last_step.tolist(), s.min.tolist(), s.max.tolist(),
                                 s.last.tolist()), strict=True))
        assert mismatches(got, want) == []


def test_comparisons() -> None:
    assert same_value(NAN, NAN) and same_value(2, 2.0) and not same_value(True, 1)
    assert not same_value(NAN, 0.0) and not same_value(INF, -INF)
    assert [from_json(v) for v in ("Infinity", "-Infinity", 4)] == [INF, -INF, 4]
    assert math.isnan(from_json("NaN"))
    want = expected_series([{"_step": 0, "v": NAN}], "v", 0, 1)
    json_answer = {c: ["NaN" if isinstance(v, float) else v for v in want[c]] for c in COLUMNS}
    assert mismatches(json_answer, want) == []
    assert mismatches({**json_answer, "count": [2]}, want) == [("count", 0, 2, 1)]
    assert mismatches({**json_answer, "bucket": []}, want) == [("bucket", -1, 0, 1)]
