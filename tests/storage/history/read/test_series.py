"""Chart series over both history tiers, checked bucket by bucket against a brute-force
reduction of exactly what was logged (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history import compaction
from tracklet.storage.history.live.write import write_history
from tracklet.storage.history.read.series import Series, chart_series
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata import runs as run_repo
from tracklet.testing.series_oracle import expected_series, mismatches


def _new_run(storage: Storage, project: Project, name: str) -> int:
    with storage.db.write() as conn:
        return run_repo.create_run(conn, project, name, None, RunFields()).id


def _log(storage: Storage, run_id: int, rows: list[dict[str, Any]], offset: int) -> None:
    with storage.db.write() as conn:
        write_history(conn, run_id, StreamChunk(offset, tuple(dumps_row(r) for r in rows)))


def _finish(storage: Storage, run_id: int) -> None:
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, run_id, state="finished")
    assert compaction.compact_now(storage, run_id)


def _rows(start: int, stop: int, seed: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in range(start, stop):
        row: dict[str, Any] = {"_step": s, "loss": ((s * 7919 + seed) % 1009) / 13.0,
                               "epoch": s // 50}
        if s % 3 == 0:
            row["sparse"] = -((s * 31 + seed) % 97)
        if s % 11 == 4:
            row["text"] = f"note {s}"
        if s == 123:
            row["loss"] = float("nan")
        if s == 321:
            row["flag"] = True
        rows.append(row)
    return rows


def _same(series: Series, want: dict[str, list[Any]]) -> None:
    got = {"bucket": series.bucket.tolist(), "count": series.count.tolist(),
           "firstStep": series.first_step.tolist(), "lastStep": series.last_step.tolist(),
           "min": series.min.tolist(), "max": series.max.tolist(),
           "last": series.last.tolist()}
    assert not mismatches(got, want)
    # Each key here holds one kind of number, and the series keeps it: ints stay ints.
    for name, values in want.items():
        assert [type(v) for v in got[name]] == [type(v) for v in values], name


@pytest.mark.parametrize("buckets", [1, 7, 100, 5000])
def test_series_match_brute_force_on_both_tiers(storage: Storage, project: Project,
                                               buckets: int) -> None:
    live_run = _new_run(storage, project, "live")
    done = _new_run(storage, project, "done")
    resumed = _new_run(storage, project, "resumed")
    live_rows = _rows(0, 900, 1)
    done_rows = _rows(5, 1200, 2)
    first = _rows(0, 600, 3)
    _log(storage, live_run, live_rows, 0)
    _log(storage, done, done_rows, 0)
    _log(storage, resumed, first, 0)
    _finish(storage, done)
    _finish(storage, resumed)
    with storage.db.write() as conn:
        run_repo.set_run_columns(conn, resumed, state="running")
    # Resumed: rewrites steps 550..599 (replacing exported rows) and continues to 1300.
    again = [{**r, "loss": -r["loss"] if isinstance(r["loss"], float) else 0.0}
             for r in _rows(550, 1300, 4)]
    _log(storage, resumed, again, 600)

    keys = ["loss", "sparse", "epoch", "text", "flag", "never"]
    axis, series = chart_series(storage, [live_run, done, resumed], keys, buckets)
    assert axis.start == 0 and axis.width == max(1, -(-1300 // buckets))
    assert axis.buckets * axis.width >= 1300
    logged = [(live_rows, []), (done_rows, []), (first, again)]
    for (rows, resumed_rows), per_key in zip(logged, series, strict=True):
        for key in keys:
            _same(per_key[key], expected_series(rows, key, axis.start, axis.width,
                                                resumed=resumed_rows))
    assert series[0]["text"].bucket.size == 0 and series[0]["never"].bucket.size == 0
    assert series[0]["flag"].bucket.size == 0
    # Every logged extreme is visible in some bucket.
    loss = [r["loss"] for r in done_rows if not math.isnan(r["loss"])]
    assert min(loss) in series[1]["loss"].min and max(loss) in series[1]["loss"].max


def test_series_of_an_empty_run(storage: Storage, project: Project) -> None:
    run = _new_run(storage, project, "empty")
    axis, series = chart_series(storage, [run], ["loss"], 10)
    assert axis.buckets == 0 and series[0]["loss"].bucket.size == 0


@pytest.mark.parametrize("buckets", [1, 7, 1000])
def test_a_step_range_is_read_at_its_own_resolution(storage: Storage, project: Project,
                                                    buckets: int) -> None:
    """``min_step`` (inclusive) and ``max_step`` (exclusive) narrow the shared axis: a
    zoomed chart's range, from live rows and exports alike, bucketed over the range only."""
    live_run = _new_run(storage, project, "zoom-live")
    done = _new_run(storage, project, "zoom-done")
    live_rows, done_rows = _rows(0, 900, 5), _rows(5, 1200, 6)
    _log(storage, live_run, live_rows, 0)
    _log(storage, done, done_rows, 0)
    _finish(storage, done)
    axis, series = chart_series(storage, [live_run, done], ["loss", "epoch"], buckets,
                                min_step=300, max_step=450)
    assert axis.start == 300 and axis.start + axis.width * axis.buckets >= 450
    assert axis.width == max(1, -(-150 // buckets))
    for rows, per_key in zip([live_rows, done_rows], series, strict=True):
        inside = [r for r in rows if 300 <= r["_step"] < 450]
        _same(per_key["epoch"], expected_series(inside, "epoch", axis.start, axis.width))
        got = per_key["loss"]
        assert got.first_step.min() >= 300 and got.last_step.max() < 450
        assert int(got.count.sum()) == len(inside)
    # A range where nothing was logged: no buckets.
    axis, series = chart_series(storage, [live_run], ["loss"], 10, min_step=5000)
    assert axis.buckets == 0 and series[0]["loss"].bucket.size == 0
