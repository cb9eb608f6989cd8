"""``api.runs()`` filtered and ordered by a summary metric over projects of 100, 1,000 and
10,000 runs: time to the first page, time to list every match, growth with project size,
and the floor: one SQLite query doing the same filter and sort on the server's database.

    python -m benchmarks.runs_listing [--sizes 100,1000,10000]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.harness import replace_section, throwaway_server, timed, wandb_api
from tracklet.config import Settings
from tracklet.domain.records import RunFields
from tracklet.storage import Storage
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo

FILTERS = {"summary_metrics.acc": {"$gt": 0.5}, "state": "finished"}
ORDER = "-summary_metrics.acc"


def _populate(storage: Storage, project: str, n: int) -> int:
    rng = random.Random(n)
    matching = 0
    with storage.db.write() as conn:
        entity = accounts.ensure_entity(conn, "admin")
        admin = accounts.get_user_by_name(conn, "admin")
        assert admin is not None
        proj = accounts.ensure_project(conn, entity, project)
        for i in range(n):
            acc = rng.random()
            matching += acc > 0.5
            summary = {"_step": 99, "_runtime": 12.5, "acc": acc, "loss": 1 - acc,
                       **{f"metric_{k}": rng.random() for k in range(20)}}
            config = {"lr": {"value": rng.choice([0.1, 0.01, 0.001])},
                      "batch": {"value": rng.choice([16, 32, 64])},
                      "_wandb": {"value": {"cli_version": "0.31.0", "t": {"1": [1, 5]}}}}
            run_repo.create_run(conn, proj, f"run{i:05d}", admin.id, RunFields(
                config=orjson.dumps(config).decode(), summary=orjson.dumps(summary).decode(),
                tags=("bench",), state="finished"))
    return matching


def _floor(db_path: Path, project: str) -> tuple[float, int]:
    conn = sqlite3.connect(db_path)
    query = """SELECT runs.* FROM runs JOIN projects ON projects.id = runs.project_id
        WHERE projects.name = ? AND runs.state = 'finished'
          AND json_extract(runs.summary, '$.acc') > 0.5
        ORDER BY json_extract(runs.summary, '$.acc') DESC"""
    seconds, rows = timed(lambda: conn.execute(query, (project,)).fetchall())
    conn.close()
    return seconds, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100,1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-runs-"))
    rows = []
    with throwaway_server() as srv:
        storage = Storage.open(Settings(data_dir=srv.data_dir), migrate=False)
        api = wandb_api(srv, work / "sdk")
        for n in sizes:
            project = f"runs{n}"
            matching = _populate(storage, project, n)
            path = f"admin/{project}"
            api.flush()

            def first_page(path: str = path) -> list[str]:
                runs = api.runs(path, filters=FILTERS, order=ORDER, per_page=50)
                it = iter(runs)
                return [next(it).id for _ in range(min(50, len(runs)))]

            t_first, first = timed(first_page)
            api.flush()

            def every_page(path: str = path) -> list[str]:
                return [r.id for r in api.runs(path, filters=FILTERS, order=ORDER, per_page=50)]

            t_all, every = timed(every_page)
            assert len(every) == matching and every[:50] == first
            t_floor, floor_rows = _floor(srv.data_dir / "tracklet.db", project)
            assert floor_rows == matching
            rows.append((n, matching, t_first, t_all, t_floor))
            time.sleep(0.5)
        storage.close()
    base_first, base_all = rows[0][2], rows[0][3]
    lines = [
        f"Filter `{orjson.dumps(FILTERS).decode()}`, order `{ORDER}`, 50 runs per page; "
        "each run has 23 summary keys and 3 config keys. The floor is one SQLite query "
        "doing the same filter and sort directly on the server's database file.",
        "",
        "| runs in project | matches | first page | growth | all matches | growth "
        "| floor (one SQL query) | all / floor |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = [
        "",
        "The server evaluates each query's filter and sort once and keeps the ordered "
        "matches while the project's runs are unchanged (a fingerprint over a covering "
        "index of `runs.revision`, which every update bumps); each page is then a slice "
        "after the cursor plus one fetch of 50 runs by id, and `runCount` comes from the "
        "same cached listing. What remains per page is the fingerprint check and the SDK's "
        "own parsing of 50 runs. Before this cache (main at `5f8e4a4`) every page re-ran the "
        "JSON filter and sort over the whole project: all matches took 0.03 s, 0.47 s and "
        "17.64 s at 100, 1,000 and 10,000 runs (growth 1x, 16.5x, 620x).",
    ]
    for n, matching, t_first, t_all, t_floor in rows:
        lines.append(
            f"| {n:,} | {matching:,} | {t_first * 1000:.0f} ms | {t_first / base_first:.1f}x "
            f"| {t_all:.2f} s | {t_all / base_all:.1f}x | {t_floor * 1000:.1f} ms "
            f"| {t_all / t_floor:.0f}x |")
    body = "\n".join(lines + notes)
    print(body)
    replace_section("Run listing (`python -m benchmarks.runs_listing`)", body)


if __name__ == "__main__":
    main()
