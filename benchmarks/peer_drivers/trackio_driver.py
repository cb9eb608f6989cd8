"""Trackio driver: log the benchmark's runs through trackio's API, then read a metric back.

Run inside benchmarks/.peers/trackio with TRACKIO_DIR pointing at a scratch folder:
``python trackio_driver.py ingest|read --runs N --steps S --batch B``. Prints one JSON object.
Trackio is local-first (no server): ``trackio.log`` queues rows that a background thread
writes to a per-project SQLite file, so ingest is timed until ``finish()`` has flushed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import data

PROJECT = "bench"


def ingest(runs: int, steps: int) -> dict[str, object]:
    import trackio

    errors: list[str] = []

    def one(r: int) -> None:
        try:
            run = trackio.init(project=PROJECT, name=f"r{r:06d}", auto_log_gpu=False)
            for s in range(steps):
                run.log(data.row(r, s), step=s)
            run.finish()
        except Exception as exc:  # reported, not hidden
            errors.append(repr(exc))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(r,)) for r in range(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"seconds": time.perf_counter() - t0, "errors": errors[:3]}


def read(runs: int, steps: int, metric: str) -> dict[str, object]:
    from trackio.sqlite_storage import SQLiteStorage

    idx = int(metric[1:])
    # One untimed read of another run first (first-use costs), as for the other systems.
    SQLiteStorage.get_metric_values(PROJECT, f"r{runs - 1:06d}", metric)
    times = []
    for _ in range(3):  # the median of three timed reads, as for tracklet's read paths
        t0 = time.perf_counter()
        got = SQLiteStorage.get_metric_values(PROJECT, "r000000", metric)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    ok = len(got) == steps and all(
        row.get("value") == data.value(0, int(row["step"]), idx) for row in got)
    counts = []
    for r in range(runs):
        counts.append(len(SQLiteStorage.get_metric_values(PROJECT, f"r{r:06d}", metric)))
    return {"seconds": seconds, "points": len(got), "ok": ok,
            "all_runs_complete": all(c == steps for c in counts),
            "sample": got[:2]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["ingest", "read"])
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--metric", default="m3")
    a = p.parse_args()
    out = ingest(a.runs, a.steps) if a.what == "ingest" else read(a.runs, a.steps, a.metric)
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
