"""The ``history`` view holds what ``GET /api/v1/runs/history`` answers for each run, on
every tier (live rows, a checkpointed running run, a compacted run, a resumed one), in JSON
and Arrow, on SQLite + local files and PostgreSQL + S3; and aggregates over it equal the
same computation done with pandas on the endpoint's rows."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from tests.sql.writer import RunWriter
from tests.support.app import InProcessApp
from tracklet.sql.views import Scope, history_parts, load_runs
from tracklet.storage.history.live import chunks
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import runs as run_repo

KEYS = ["loss", "acc", "note", "val/acc"]


@pytest.fixture
def small_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunk slots of 8 lines, so a checkpoint (whole slots only) exports a short history."""
    monkeypatch.setattr(chunks, "CHUNK_LINES", 8)


def rows(start: int, stop: int, seed: int) -> list[dict[str, Any]]:
    """Sparse rows of mixed kinds: non-finite floats, ints, strings, a key with a slash."""
    out: list[dict[str, Any]] = []
    for i in range(start, stop):
        row: dict[str, Any] = {"_step": i, "acc": i * seed}
        if i % 7 != 3:
            row["loss"] = (math.inf if i % 11 == 5 else math.nan if i % 13 == 6
                           else 1.0 / (i + seed))
        if i % 3 == 0:
            row["note"] = f"n{i}-{seed}"
        if i % 5 == 0:
            row["val/acc"] = (i * 7 + seed) % 100 / 100
        out.append(row)
    return out


def post(app: InProcessApp, sql: str, **body: Any) -> Any:
    response = app.client.post("/api/v1/query", json={"sql": sql, **body})
    assert response.status_code == 200, response.text
    return response


def endpoint_rows(app: InProcessApp, path: str, keys: list[str]) -> list[list[Any]]:
    response = app.client.get("/api/v1/runs/history", params={
        "run": path, "keys": ",".join(keys), "format": "json"})
    assert response.status_code == 200, response.text
    return list(response.json()["rows"])


def _tiers(app: InProcessApp, run: RunWriter) -> tuple[int, bool]:
    with app.storage.db.read() as conn:
        run_id = run_repo.get_run_by_path(conn, run.entity, run.project, run.name).id
    with open_history(app.storage, run_id) as view:
        return len(view.exports), view.has_live


def _runs(app: InProcessApp) -> list[RunWriter]:
    live = RunWriter(app, "admin", "tiers", "live", config={"lr": 1e-4})
    live.log(rows(0, 40, 1))
    checkpointed = RunWriter(app, "admin", "tiers", "ckpt", config={"lr": 3e-4})
    checkpointed.log(rows(0, 40, 2))
    checkpointed.checkpoint()
    checkpointed.log(rows(40, 55, 2))
    done = RunWriter(app, "admin", "tiers", "done", config={"lr": 1e-2})
    # A row holding nothing but its step: the endpoint leaves it out, so must the view.
    done.log([*rows(0, 50, 3), {"_step": 50}, *rows(51, 60, 3)])
    done.finish(summary={"val/acc": 0.5})
    resumed = RunWriter(app, "admin", "tiers", "resumed", config={"lr": 5e-4})
    resumed.log(rows(0, 30, 4))
    resumed.finish()
    resumed.log(rows(30, 45, 4))
    nested = RunWriter(app, "admin", "tiers", "nested", config={"lr": 1e-2})
    nested.log([{**row, "shape": {"w": row["_step"], "h": [1, 2]},
                 "mixed": row["_step"] if row["_step"] % 2 else "odd"}
                for row in rows(0, 20, 5)])
    nested.finish()
    assert _tiers(app, live) == (0, True)
    assert _tiers(app, checkpointed)[0] >= 1 and _tiers(app, checkpointed)[1]
    assert _tiers(app, done) == (1, False)
    assert _tiers(app, resumed) == (1, True)
    assert _tiers(app, nested) == (1, False)
    return [live, checkpointed, done, resumed, nested]


def _arrow_rows(table: pa.Table) -> list[list[Any]]:
    """An Arrow answer's rows, JSON columns decoded (as the JSON answer has them)."""
    columns = []
    for field in table.schema:
        values = table.column(field.name).to_pylist()
        if field.type == pa.string() and field.name in ("shape", "mixed"):
            values = [None if v is None else json.loads(v) for v in values]
        columns.append([_strict(v) for v in values])
    return [list(r) for r in zip(*columns, strict=True)]


def test_history_view_equals_the_history_endpoint_on_every_tier(
        app: InProcessApp, small_slots: None) -> None:
    runs = _runs(app)
    keys = [*KEYS, "shape", "mixed"]
    columns = ", ".join(f'"{k}"' for k in keys)
    for run in runs:
        want = endpoint_rows(app, run.path, keys)
        assert want, run.path
        sql = (f"SELECT _step, {columns} FROM history WHERE run = '{run.path}' "
               "ORDER BY _step")
        body = post(app, sql).json()
        assert [c["name"] for c in body["columns"]] == ["_step", *keys]
        assert body["rows"] == want, run.path
        assert [c["type"] for c in body["columns"]][-2:] == ["JSON", "JSON"]
        # Arrow: the same values (NaN compared as NaN).
        table = ipc.open_stream(post(app, sql, format="arrow").content).read_all()
        assert _arrow_rows(table) == want, run.path
    # Every run's rows together, and nothing else.
    count = post(app, "SELECT count(*) FROM history").json()["rows"][0][0]
    assert count == sum(len(endpoint_rows(app, r.path, keys)) for r in runs)
    # Which metrics a statement names changes its columns, never its rows.
    for sql in ("SELECT run, count(*) FROM history GROUP BY run",
                'SELECT run, count(*) FROM history WHERE "val/acc" IS NULL OR true GROUP BY run'):
        counts = dict(post(app, sql).json()["rows"])
        assert counts == {r.path: len(endpoint_rows(app, r.path, keys)) for r in runs}, sql
    # Both ways of building the view were taken: the compacted run of plain columns is read
    # by DuckDB from its export file, the others (live rows, a JSON column) by the scan.
    with app.storage.db.read() as conn:
        run_list = load_runs(conn, Scope(["admin"], readable=lambda _e, _p: True))
        parts = history_parts(app.storage, conn, run_list, lambda k: True, lambda: None)
    assert {run for run, _path in parts.files} == {"admin/tiers/done"}
    assert set(parts.rows.column("run").to_pylist()) == {
        f"admin/tiers/{n}" for n in ("live", "ckpt", "resumed", "nested")}


def _strict(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def test_best_val_acc_per_run_with_small_lr_equals_pandas(app: InProcessApp,
                                                          small_slots: None) -> None:
    runs = _runs(app)
    frames = []
    for run in runs:
        got = endpoint_rows(app, run.path, ["val/acc"])
        frame = pd.DataFrame(got, columns=["_step", "val/acc"])
        frame["run"] = run.path
        frames.append(frame)
    data = pd.concat(frames, ignore_index=True)
    lr = post(app, 'SELECT run, "config.lr" FROM runs').json()["rows"]
    small = {r for r, value in lr if value < 1e-3}
    assert small == {f"admin/tiers/{n}" for n in ("live", "ckpt", "resumed")}
    data = data[data["run"].isin(small)]
    best = data.loc[data.groupby("run")["val/acc"].idxmax()]
    want = sorted([r, s, v] for r, s, v in best[["run", "_step", "val/acc"]].itertuples(
        index=False))
    sql = """
        SELECT h.run, arg_max(h._step, h."val/acc") AS step,
               max(h."val/acc") AS best
        FROM history h JOIN runs r USING (run)
        WHERE r."config.lr" < 1e-3 AND h."val/acc" IS NOT NULL
        GROUP BY h.run ORDER BY h.run"""
    got = post(app, sql).json()["rows"]
    assert got == want
