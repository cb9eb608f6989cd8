"""The SQL console: "best val/acc per run, with its step, for runs with lr < 1e-3" over
compacted runs, in seconds, against

* the floor: DuckDB in process straight on the same Parquet export files (and the run
  configs), what the console would cost without building per-user views;
* paging the same data through ``GET /api/v1/runs/history`` (one Arrow request per run
  picked by a GraphQL-filtered listing) and computing the answer in Python;
* the real ``wandb.Api()``: ``api.runs(filters=...)`` then ``run.scan_history`` per run.

Every answer is checked equal to the console's.

    python -m benchmarks.query [--runs 1000] [--steps 1000] [--quick] [--no-readme]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pyarrow.ipc as ipc

from benchmarks.harness import (
    ADMIN_KEY,
    Table,
    command_line,
    parser,
    report,
    wandb_api,
    workdir,
)
from benchmarks.wire import Wire, finish_payload, history_payload
from tracklet import testing
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import runs as run_repo

ENTITY, PROJECT = "admin", "sqlbench"
METRICS = 8
SQL = f"""
    SELECT h.run, arg_max(h._step, h."val/acc") AS step, max(h."val/acc") AS best
    FROM history h JOIN runs r USING (run)
    WHERE r."config.lr" < 1e-3 AND r.project = '{PROJECT}'
    GROUP BY h.run ORDER BY h.run"""
Answer = list[tuple[str, int, float]]


def lr_of(run: int) -> float:
    """Half the runs below 1e-3."""
    return [1e-4, 5e-4, 2e-3, 1e-2][run % 4]


def val_acc(run: int, step: int) -> float:
    """A value with a single best per run (no ties)."""
    return ((step * 7919 + run * 104729) % 1_000_003) / 1_000_003


def name(run: int) -> str:
    return f"r{run:05d}"


async def _write(url: str, runs: int, steps: int) -> None:
    wire = Wire(url, ADMIN_KEY, connections=8)
    sem = asyncio.Semaphore(8)

    async def one(run: int) -> None:
        async with sem:
            await wire.upsert_run(PROJECT, name(run), entity=ENTITY,
                                  config={"lr": {"value": lr_of(run)}})
            lines = []
            for step in range(steps):
                row: dict[str, Any] = {"_step": step, "_runtime": step * 0.1,
                                       **{f"m{j}": (step * (j + 3)) % 1009 / 1009
                                          for j in range(METRICS)}}
                if step % 5 == 0:
                    row["val/acc"] = val_acc(run, step)
                lines.append(orjson.dumps(row).decode())
            for offset in range(0, steps, 5000):
                await wire.file_stream(ENTITY, PROJECT, name(run),
                                       history_payload(offset, lines[offset:offset + 5000]))
            await wire.file_stream(ENTITY, PROJECT, name(run), finish_payload())

    try:
        await asyncio.gather(*(one(r) for r in range(runs)))
    finally:
        await wire.close()


def _wait_compacted(server: testing.TrackletServer, runs: int, steps: int) -> list[Path]:
    """Wait until every run is one Parquet export; the exports' local paths."""
    storage = server.storage()
    try:
        deadline = time.monotonic() + 1800
        pending = {name(r) for r in range(runs)}
        paths: dict[str, Path] = {}
        while pending and time.monotonic() < deadline:
            for run in sorted(pending):
                with storage.db.read() as conn:
                    run_id = run_repo.get_run_by_path(conn, ENTITY, PROJECT, run).id
                with open_history(storage, run_id) as view:
                    if view.fully_exported and sum(e.row_count for e in view.exports) == steps:
                        assert len(view.exports) == 1
                        paths[run] = storage.files.path(view.exports[0].blob_key)
                        pending.discard(run)
            if pending:
                time.sleep(1.0)
        if pending:
            raise RuntimeError(f"{len(pending)} runs were not compacted")
        return [paths[name(r)] for r in range(runs)]
    finally:
        storage.close()


def _console(url: str) -> Answer:
    response = httpx.post(f"{url}/api/v1/query", json={"sql": SQL, "format": "arrow"},
                          auth=("api", ADMIN_KEY), timeout=600)
    response.raise_for_status()
    table = ipc.open_stream(response.content).read_all()
    return [(r["run"], r["step"], r["best"]) for r in table.to_pylist()]


def _floor(paths: list[Path], runs: int) -> Answer:
    """DuckDB on the export files themselves, the run's lr from a table of configs."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("CREATE TABLE cfg (file VARCHAR, run VARCHAR, lr DOUBLE)")
        con.executemany("INSERT INTO cfg VALUES (?, ?, ?)",
                        [(str(p), f"{ENTITY}/{PROJECT}/{name(r)}", lr_of(r))
                         for r, p in enumerate(paths)])
        files = [str(p) for p in paths]
        rows = con.execute("""
            SELECT c.run, arg_max(h._step, h."val/acc"), max(h."val/acc")
            FROM read_parquet(?, filename = true) h JOIN cfg c ON h.filename = c.file
            WHERE c.lr < 1e-3 AND h."val/acc" IS NOT NULL
            GROUP BY c.run ORDER BY c.run""", [files]).fetchall()
        return [(str(a), int(b), float(c)) for a, b, c in rows]
    finally:
        con.close()


RUNS_QUERY = """query Runs($project: String!, $entity: String!, $cursor: String,
    $filters: JSONString) {
  project(name: $project, entityName: $entity) {
    runs(first: 500, after: $cursor, filters: $filters) {
      edges { node { name } cursor } pageInfo { hasNextPage endCursor } } } }"""


def _paged(url: str) -> Answer:
    """The run listing filtered on lr, then each run's val/acc from /api/v1/runs/history."""
    out: Answer = []
    with httpx.Client(base_url=url, auth=("api", ADMIN_KEY), timeout=600) as client:
        names: list[str] = []
        cursor = None
        while True:
            body = client.post("/graphql", json={"query": RUNS_QUERY, "variables": {
                "project": PROJECT, "entity": ENTITY, "cursor": cursor,
                "filters": orjson.dumps({"config.lr.value": {"$lt": 1e-3}}).decode()}}).json()
            runs = body["data"]["project"]["runs"]
            names += [e["node"]["name"] for e in runs["edges"]]
            if not runs["pageInfo"]["hasNextPage"]:
                break
            cursor = runs["pageInfo"]["endCursor"]
        for run in names:
            response = client.get("/api/v1/runs/history", params={
                "run": f"{ENTITY}/{PROJECT}/{run}", "keys": "val/acc"})
            response.raise_for_status()
            table = ipc.open_stream(response.content).read_all()
            steps, values = table.column("_step").to_pylist(), table.column(1).to_pylist()
            best = max(range(len(values)), key=lambda i: values[i])
            out.append((f"{ENTITY}/{PROJECT}/{run}", steps[best], values[best]))
    return sorted(out)


def _wandb(api: Any) -> Answer:
    out: Answer = []
    for run in api.runs(f"{ENTITY}/{PROJECT}", filters={"config.lr": {"$lt": 1e-3}},
                        per_page=500):
        best: tuple[int, float] | None = None
        for row in run.scan_history(keys=["_step", "val/acc"], page_size=1000):
            if best is None or row["val/acc"] > best[1]:
                best = (row["_step"], row["val/acc"])
        assert best is not None
        out.append((f"{ENTITY}/{PROJECT}/{run.id}", *best))
    return sorted(out)


def _best_of(n: int, fn: Callable[[], Answer]) -> tuple[float, Answer]:
    times, answer = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        answer = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), answer


def main(argv: list[str]) -> int:
    p = parser("benchmarks.query", __doc__ or "")
    p.add_argument("--runs", type=int, default=None)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--no-wandb", action="store_true", help="skip the wandb.Api() reader")
    args = p.parse_args(argv)
    runs = args.runs or (20 if args.quick else 1000)
    steps = args.steps or (200 if args.quick else 1000)
    with workdir(args.keep, prefix="bench-query-") as base:
        server = testing.start_server(base / "server", key=ADMIN_KEY, db=args.db or "",
                                      blobs=args.blobs or "",
                                      env={"TRACKLET_LOG_LEVEL": "warning",
                                           "TRACKLET_QUERY_TIMEOUT_S": "600"}, timeout=90)
        try:
            t0 = time.perf_counter()
            asyncio.run(_write(server.url, runs, steps))
            paths = _wait_compacted(server, runs, steps)
            print(f"wrote and compacted {runs} runs x {steps} steps in "
                  f"{time.perf_counter() - t0:.0f} s", file=sys.stderr)
            _console(server.url)  # first statement of the process: imports and warm-up
            console_s, want = _best_of(args.repeat, lambda: _console(server.url))
            assert len(want) == sum(1 for r in range(runs) if lr_of(r) < 1e-3)
            floor_s, floor = _best_of(args.repeat, lambda: _floor(paths, runs))
            assert floor == want, "the floor's answer differs"
            paged_s, paged = _best_of(1, lambda: _paged(server.url))
            assert paged == want, "the paged answer differs"
            table = Table(f"best val/acc per run with lr < 1e-3: {runs} runs x {steps} steps "
                          f"x {METRICS + 2} keys, compacted", ["reader", "seconds",
                                                               "vs console"])
            table.add("SQL console (POST /api/v1/query)", console_s, "1.00x")
            table.add("floor: DuckDB on the Parquet files", floor_s,
                      f"{floor_s / console_s:.2f}x")
            table.add("/api/v1/runs/history per run + Python", paged_s,
                      f"{paged_s / console_s:.2f}x")
            if not args.no_wandb:
                api = wandb_api(server, base / "wandb")
                wandb_s, via_sdk = _best_of(1, lambda: _wandb(api))
                assert via_sdk == want, "wandb.Api()'s answer differs"
                table.add("wandb.Api(): runs(filters) + scan_history", wandb_s,
                          f"{wandb_s / console_s:.1f}x")
            table.notes.append(f"console / floor = {console_s / floor_s:.2f}x (target < 2x); "
                               f"median of {args.repeat} for the console and the floor, one "
                               "pass for the paged readers. Every answer equal.")
        finally:
            server.stop()
    report("query", "SQL console (issue 21)", [table],
           command_line("benchmarks.query", argv), args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main(sys.argv[1:]))
