"""The chart's driver-level read of live rows gives exactly what the row-by-row read gives
(SQLite and PostgreSQL): same steps, same values, same types, same order, whatever the rows
hold (NaN/Infinity, integers beyond 64 bits, mixed kinds, non-objects, repeated steps) and
wherever the batches are cut."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history import live, live_columns, series
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.history.tiers import open_history
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo

KEYS = ["loss", "acc", "mixed", "big", "odd", "never"]


@pytest.fixture
def run_id(storage: Storage) -> int:
    with storage.db.write() as conn:
        accounts.create_user(conn, "alice", admin=False)
        entity = accounts.ensure_entity(conn, "alice")
        project: Project = accounts.ensure_project(conn, entity, "p")
        return run_repo.create_run(conn, project, "r", None, RunFields()).id


def _line(step: int) -> str:
    row: dict[str, Any] = {"_step": step, "loss": step / 7, "acc": step % 9 - 4}
    row["mixed"] = step if step % 2 else step + 0.25
    if step % 13 == 0:
        row["loss"] = math.nan if step % 2 else -math.inf
    if step % 29 == 1:
        row["big"] = 2**64 + step
    elif step % 3 == 0:
        row["big"] = step
    row["odd"] = [None, True, "s", {"a": 1}, [1], 1.5, 2][step % 7]
    return dumps_row(row)


def _again(step: int, loss: float) -> str:
    return dumps_row({"_step": step, "loss": loss, "acc": -step, "mixed": loss})


def _write(storage: Storage, run_id: int) -> None:
    lines = [_line(s) for s in range(0, 700)]
    with storage.db.write() as conn:
        live.write_history(conn, run_id, StreamChunk(0, tuple(lines)))
        # Repeated steps, the later lines stored first (so storage order is not line order)
        live.write_history(conn, run_id, StreamChunk(
            710, (_again(5, 1.5), _again(300, 2.5), _again(699, 3.5))))
        live.write_history(conn, run_id, StreamChunk(
            705, (_again(5, -1.5), _again(300, -2.5), _again(699, -3.5), _again(5, 9.0))))
        # ... lines that are not history objects ...
        live.write_history(conn, run_id, StreamChunk(720, (
            '[1,2,{"_step":3}]', "7", '{"_step": 400, "loss": NaN, "acc": Infinity}')))
        # ... and a rewrite of an earlier line at another step.
        live.write_history(conn, run_id, StreamChunk(10, (_line(650),)))


def _reference(storage: Storage, run_id: int, lo: int | None,
               hi: int | None) -> tuple[series._Columns, np.ndarray]:
    cols = series._Columns(KEYS)
    with open_history(storage, run_id) as view:
        steps = series._read_live(view, KEYS, lo, hi, cols)
    return cols, steps


@pytest.mark.parametrize("batch", [1, 7, 20_000])
@pytest.mark.parametrize("bounds", [(None, None), (3, 650), (300, 300)])
def test_driver_read_equals_row_by_row_read(storage: Storage, run_id: int, batch: int,
                                            bounds: tuple[int | None, int | None],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _write(storage, run_id)
    monkeypatch.setattr(live_columns, "BATCH_ROWS", batch)
    lo, hi = bounds
    want, want_steps = _reference(storage, run_id, lo, hi)
    with open_history(storage, run_id) as view:
        assert live_columns.supported(view.conn)
        got = live_columns.read(view.conn, run_id, KEYS, lo, hi,
                                (view.live_count, view.live_min, view.live_max))
    assert got.steps().tolist() == want_steps.tolist()
    for key in KEYS:
        column = got.column(key)
        parts = want.parts[key]
        if not parts:
            assert column is None, key
            continue
        assert column is not None, key
        (want_s, want_v), = parts
        assert column[0].tolist() == want_s.tolist(), key
        assert column[1].dtype == want_v.dtype, key
        for a, b in zip(column[1].tolist(), want_v.tolist(), strict=True):
            assert (type(a), a) == (type(b), b) or (a != a and b != b), (key, a, b)


def test_series_of_live_rows_over_batches(storage: Storage, run_id: int,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole reduction agrees however the live read is batched."""
    _write(storage, run_id)
    monkeypatch.setattr(live_columns, "BATCH_ROWS", 20_000)
    axis, one = series.chart_series(storage, [run_id], KEYS, 37)
    monkeypatch.setattr(live_columns, "BATCH_ROWS", 3)
    _, many = series.chart_series(storage, [run_id], KEYS, 37)
    for key in KEYS:
        assert repr(one[0][key].to_json()) == repr(many[0][key].to_json()), key
    assert axis.buckets > 0
