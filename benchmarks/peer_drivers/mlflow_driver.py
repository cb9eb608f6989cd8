"""MLflow driver: log the benchmark's runs with ``MlflowClient.log_batch`` to a tracking
server, then read one metric's full history back with ``get_metric_history``.

Run inside benchmarks/.peers/mlflow with MLFLOW_TRACKING_URI set to the server:
``python mlflow_driver.py ingest|read|read-all --runs N --steps S --batch B``. Prints one JSON
object (``read-all``: every metric of every run, what an import reads).
Each run is logged by its own thread (as N training processes would), ``--batch`` steps per
request (10 metrics each, so 100 steps = MLflow's 1,000-metric log_batch limit).
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

EXPERIMENT = "bench"


def ingest(runs: int, steps: int, batch: int) -> dict[str, object]:
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name(EXPERIMENT)
    exp_id = exp.experiment_id if exp else client.create_experiment(EXPERIMENT)
    run_ids = [client.create_run(exp_id, run_name=f"r{r:06d}").info.run_id for r in range(runs)]
    errors: list[str] = []
    latencies: list[float] = []

    def one(r: int, run_id: str) -> None:
        c = MlflowClient()
        try:
            for start in range(0, steps, batch):
                metrics = [Metric(m, data.value(r, s, i), int((data.T0 + s) * 1000), s)
                           for s in range(start, min(start + batch, steps))
                           for i, m in enumerate(data.METRICS)]
                t = time.perf_counter()
                c.log_batch(run_id, metrics=metrics)
                latencies.append(time.perf_counter() - t)
        except Exception as exc:  # reported, not hidden
            errors.append(repr(exc)[:300])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=one, args=(r, rid)) for r, rid in enumerate(run_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "errors": errors[:3], "run_ids": run_ids,
            "latencies": sorted(latencies)}


def read(run_ids: list[str], steps: int, metric: str) -> dict[str, object]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    idx = int(metric[1:])
    # One untimed read of another run first, as for tracklet: the timed read then measures
    # reading a history, not the client's or server's first-use costs.
    client.get_metric_history(run_ids[-1], metric)
    times = []
    for _ in range(3):  # the median of three timed reads, as for tracklet's read paths
        t0 = time.perf_counter()
        got = client.get_metric_history(run_ids[0], metric)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    ok = len(got) == steps and all(m.value == data.value(0, m.step, idx) for m in got)
    complete = all(len(client.get_metric_history(rid, metric)) == steps for rid in run_ids)
    return {"seconds": seconds, "points": len(got), "ok": ok, "all_runs_complete": complete}


def read_all(run_ids: list[str], steps: int) -> dict[str, object]:
    """Every metric's full history of every run, with MLflow's own client (what an import
    reads), timed."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    t0 = time.perf_counter()
    points = 0
    for run_id in run_ids:
        for metric in data.METRICS:
            points += len(client.get_metric_history(run_id, metric))
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "points": points,
            "ok": points == len(run_ids) * steps * len(data.METRICS)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["ingest", "read", "read-all"])
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--metric", default="m3")
    p.add_argument("--run-ids", default="")
    a = p.parse_args()
    if a.what == "ingest":
        out = ingest(a.runs, a.steps, a.batch)
    elif a.what == "read-all":
        out = read_all(a.run_ids.split(","), a.steps)
    else:
        out = read(a.run_ids.split(","), a.steps, a.metric)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
