"""The chart's column read of live rows gives exactly what reading the written lines one by
one gives (SQLite and PostgreSQL): same steps, same values, same types, same order, whatever
the rows hold (NaN/Infinity, integers beyond 64 bits, mixed kinds, non-objects, repeated
steps) and wherever the batches and chunks are cut."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tracklet.domain.records import Project, RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads_object
from tracklet.storage.history.live import chunks
from tracklet.storage.history.live import columns as live_columns
from tracklet.storage.history.live.write import step_of, write_history
from tracklet.storage.history.read import series
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.history.rows import dumps_row
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo

# "}{" and "}\n{": key names that look like the seam between two lines of a chunk.
KEYS = ["loss", "acc", "mixed", "big", "odd", "never", "}{", "}\n{"]


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
    row["odd"] = [None, True, '}{"loss": 1}{', {"a": 1}, [1], 1.5, 2][step % 7]
    if step % 5 == 0:
        row["}{" if step % 10 else "}\n{"] = -step
    return dumps_row(row)


def _again(step: int, loss: float) -> str:
    return dumps_row({"_step": step, "loss": loss, "acc": -step, "mixed": loss})


def _write(storage: Storage, run_id: int) -> dict[int, str]:
    """Store the test's lines; returns them by line index (what the tier should hold)."""
    writes = [
        (0, [_line(s) for s in range(0, 700)]),
        # Repeated steps, the later lines stored first (so storage order is not line order)
        (710, [_again(5, 1.5), _again(300, 2.5), _again(699, 3.5)]),
        (705, [_again(5, -1.5), _again(300, -2.5), _again(699, -3.5), _again(5, 9.0)]),
        # ... lines that are not history objects ...
        (720, ['[1,2,{"_step":3}]', "7", '{"_step": 400, "loss": NaN, "acc": Infinity}']),
        # ... and a rewrite of an earlier line at another step.
        (10, [_line(650)]),
    ]
    model: dict[int, str] = {}
    with storage.db.write() as conn:
        for offset, lines in writes:
            write_history(conn, run_id, StreamChunk(offset, tuple(lines)))
            model.update((offset + i, text) for i, text in enumerate(lines))
    return model


def _reference(model: dict[int, str], lo: int | None,
               hi: int | None) -> tuple[dict[str, tuple[list[int], list[Any]]], list[int]]:
    """Row by row from the written lines: per key the (steps, numbers), and every step."""
    rows = sorted((step, line, text) for line, text in model.items()
                  if (step := step_of(text)) is not None
                  and (lo is None or step >= lo) and (hi is None or step <= hi))
    per_key: dict[str, tuple[list[int], list[Any]]] = {k: ([], []) for k in KEYS}
    for step, _line_no, text in rows:
        row = loads_object(text) or {}
        for key in KEYS:
            v = row.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                per_key[key][0].append(step)
                per_key[key][1].append(v)
    return per_key, sorted({r[0] for r in rows})


@pytest.mark.parametrize("chunk_lines", [1, 64, 1000])
@pytest.mark.parametrize("batch", [1, 7, 20_000])
@pytest.mark.parametrize("bounds", [(None, None), (3, 650), (300, 300)])
def test_column_read_equals_row_by_row_read(storage: Storage, run_id: int, batch: int,
                                            chunk_lines: int,
                                            bounds: tuple[int | None, int | None],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    model = _write(storage, run_id)
    monkeypatch.setattr(live_columns, "BATCH_ROWS", batch)
    monkeypatch.setattr(chunks, "CHUNK_LINES", chunk_lines)
    lo, hi = bounds
    want, want_steps = _reference(model, lo, hi)
    with open_history(storage, run_id) as view:
        got = live_columns.read(view.conn, run_id, KEYS, lo, hi)
    assert got.steps().tolist() == want_steps
    for key in KEYS:
        column = got.column(key)
        want_s, want_v = want[key]
        if not want_s:
            assert column is None, key
            continue
        assert column is not None, key
        assert column[0].tolist() == want_s, key
        for a, b in zip(column[1].tolist(), want_v, strict=True):
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


@pytest.mark.parametrize("batch", [1, 7, 20_000])
@pytest.mark.parametrize("bounds", [(None, None), (3, 650)])
def test_many_runs_in_one_read_equal_each_run_read_alone(
        storage: Storage, run_id: int, batch: int, bounds: tuple[int | None, int | None],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """read_runs (one statement over every run) gives each run what read gives it alone;
    runs with no live rows in range are absent."""
    with storage.db.write() as conn:
        project = accounts.ensure_project(conn, accounts.ensure_entity(conn, "alice"), "p")
        others = [run_repo.create_run(conn, project, f"r{i}", None, RunFields()).id
                  for i in range(3)]
    _write(storage, run_id)
    with storage.db.write() as conn:  # a second run with other values, a third with none
        write_history(conn, others[0], StreamChunk(0, tuple(_line(s * 3) for s in range(300))))
        write_history(conn, others[2], StreamChunk(0, (dumps_row({"loss": 1.0}),)))
    monkeypatch.setattr(live_columns, "BATCH_ROWS", batch)
    lo, hi = bounds
    ids = [others[1], run_id, others[0], others[2]]
    with open_history(storage, run_id) as view:
        many = live_columns.read_runs(view.conn, ids, KEYS, lo, hi)
        alone = {r: live_columns.read(view.conn, r, KEYS, lo, hi) for r in ids}
    assert set(many) == {run_id, others[0]}
    for r in many:
        assert many[r].steps().tolist() == alone[r].steps().tolist()
        for key in KEYS:
            a, b = many[r].column(key), alone[r].column(key)
            assert (a is None) == (b is None), key
            if a is not None and b is not None:
                assert a[0].tolist() == b[0].tolist(), key
                assert repr(a[1].tolist()) == repr(b[1].tolist()), key
