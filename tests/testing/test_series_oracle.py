"""The chart-series oracle's semantics, by hand on the cases where they are easy to get
wrong (NaN, ±Infinity, non-numbers, a step logged twice, a resumed run's rows), and the same
as the server's answer for those rows on every metadata backend."""

from __future__ import annotations

import math
from typing import Any

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history import compaction
from tracklet.storage.history.live.write import write_history
from tracklet.storage.history.read.series import Series, chart_series
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.testing.series_oracle import (
    COLUMNS,
    as_float64,
    expected_series,
    from_binary,
    from_json,
    mismatches,
    same_series,
    same_value,
)

NAN, INF = math.nan, math.inf

ROWS: list[dict[str, Any]] = [
    {"_step": 0, "v": NAN}, {"_step": 1, "v": NAN},                     # bucket 0: all NaN
    {"_step": 2, "v": 3.0}, {"_step": 3, "v": NAN},                     # 1: NaN last
    {"_step": 4, "v": -INF}, {"_step": 5, "v": 1.5},                    # 2: -Infinity is min
    {"_step": 6, "v": "text"}, {"_step": 7.0, "v": True},               # 3: nothing charted
    {"_step": 8, "v": None}, {"_step": 9, "v": INF},                    # 4: one value
    {"_step": 10, "v": 1.0}, {"_step": 10, "v": 7.0}, {"_step": 11, "v": 2.0},  # 5: both
    {"_step": 12.5, "v": 9.0}, {"v": 9.0},                              # not on the axis
]
RESUMED: list[dict[str, Any]] = [
    {"_step": 1, "v": 4.0}, {"_step": 3, "other": 1.0},                 # hide steps 1 and 3
    {"_step": 11, "v": -1.0}, {"_step": 13, "v": 0},                    # hide 11, add 13
]


def test_nan_infinity_and_non_numbers_by_hand() -> None:
    got = expected_series(ROWS, "v", 0, 2)
    assert got["bucket"] == [0, 1, 2, 4, 5]
    assert got["count"] == [2, 2, 2, 1, 3]
    assert got["firstStep"] == [0, 2, 4, 9, 10]
    assert got["lastStep"] == [1, 3, 5, 9, 11]
    assert [math.isnan(v) for v in got["min"]] == [True, False, False, False, False]
    assert got["min"][1:] == [3.0, -INF, INF, 1.0]
    assert got["max"][1:] == [3.0, 1.5, INF, 7.0]
    assert math.isnan(got["last"][0]) and math.isnan(got["last"][1])
    assert got["last"][2:] == [1.5, INF, 2.0]

    again = expected_series(ROWS, "v", 0, 2, resumed=RESUMED)
    assert again["bucket"] == [0, 1, 2, 4, 5, 6]
    assert again["count"] == [2, 1, 2, 1, 3, 1]
    assert again["lastStep"] == [1, 2, 5, 9, 11, 13]
    assert again["min"][:2] == [4.0, 3.0] and again["max"][:2] == [4.0, 3.0]
    assert (again["min"][4], again["max"][4], again["last"][4]) == (-1.0, 7.0, -1.0)
    assert again["last"][5] == 0 and type(again["last"][5]) is int


def _project(storage: Storage) -> Project:
    with storage.db.write() as conn:
        accounts.create_user(conn, "alice", admin=False)
        return accounts.ensure_project(conn, accounts.ensure_entity(conn, "alice"), "p")


def _log(storage: Storage, run_id: int, rows: list[dict[str, Any]], offset: int) -> None:
    with storage.db.write() as conn:
        write_history(conn, run_id, StreamChunk(offset, tuple(dumps_row(r) for r in rows)))


def _answer(series: Series) -> dict[str, list[Any]]:
    return dict(zip(COLUMNS, (series.bucket.tolist(), series.count.tolist(),
                              series.first_step.tolist(), series.last_step.tolist(),
                              series.min.tolist(), series.max.tolist(), series.last.tolist()),
                    strict=True))


def test_the_server_answers_the_same(storage: Storage) -> None:
    """The same rows logged to a run, exported, resumed and logged to again: the server's
    series equals the oracle's at every stage."""
    project = _project(storage)
    with storage.db.write() as conn:
        run_id = run_repo.create_run(conn, project, "r", None, RunFields()).id
    _log(storage, run_id, ROWS, 0)

    def check(resumed: list[dict[str, Any]]) -> None:
        axis, series = chart_series(storage, [run_id], ["v"], 7)
        assert (axis.start, axis.width) == (0, 2)
        want = expected_series(ROWS, "v", 0, 2, resumed=resumed)
        assert mismatches(_answer(series[0]["v"]), want) == []

    check([])
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, run_id, state="finished")
    assert compaction.compact_now(storage, run_id)
    check([])
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, run_id, state="running")
    _log(storage, run_id, RESUMED, len(ROWS))
    check(RESUMED)


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


def test_binary_layout_round_trips_and_refuses_what_is_not_it() -> None:
    """to_binary's layout read back by the oracle's from_binary: the JSON answer's arrays as
    float64 (NaN, ±Infinity, integers beyond 2**53 rounded), a malformed body refused."""
    import numpy as np
    import pytest

    from tracklet.server.rest.series_binary import to_binary
    from tracklet.storage.history.read.series import Axis, reduce_series

    steps = np.array([0, 1, 2, 5, 9], dtype=np.int64)
    values = np.array([1.5, NAN, INF, -INF, 2.0**60 + 1], dtype=object)
    s = reduce_series(steps, values, Axis(0, 3, 4))
    body = to_binary(["e/p/r", "e/p/q"], Axis(0, 3, 4), [{"v": s}, {"v": reduce_series(
        np.empty(0, np.int64), np.empty(0), Axis(0, 3, 4))}], ["count", "min", "last"])
    got = from_binary(body)
    assert {k: got[k] for k in ("start", "bucketWidth", "buckets", "fields")} == {
        "start": 0, "bucketWidth": 3, "buckets": 4, "fields": ["count", "min", "last"]}
    want = as_float64({k: v for k, v in s.to_json().items() if k in ("bucket", "count", "min",
                                                                      "last")})
    assert same_series(got["runs"][0]["series"]["v"], want)
    assert got["runs"][0]["series"]["v"]["last"][-1] == float(2**60 + 1)
    assert got["runs"][1]["series"]["v"] == {"bucket": [], "count": [], "min": [], "last": []}
    for bad in (b"JSON" + body[4:], body[:-4], body + b"\0" * 8):
        with pytest.raises(ValueError):
            from_binary(bad)
