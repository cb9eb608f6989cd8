"""The same runs opened in MLflow's web UI and in tracklet's workspace, in the same headless
Chromium (Debian's /usr/bin/chromium under Playwright), in one invocation.

- Data: ``--runs`` runs (100) x 10 metrics x ``--steps`` steps (1,000), the same values
  (benchmarks/data.py) loaded into a tracklet server (file_stream, then finished and
  compacted) and into an ``mlflow server`` (SQLite backend store, one worker, the install
  benchmarks/peers.py makes) with MLflow's REST ``runs/log-batch`` (1,000 metrics a call),
  each run then marked FINISHED.
- MLflow, runs table: a fresh page on ``/#/experiments/<id>/runs`` (the table view) until
  the footer reads "N matching runs" (N: the runs, or its first page of 100 of them) and the
  newest run's name is a row in the grid.
- MLflow, charts: a fresh page on the same URL with ``?compareRunsMode=CHART`` (its chart
  view: one Plotly line chart per metric for the runs it shows, the first 10 by default)
  until the first chart card (``[data-testid=experiment-view-compare-runs-card]``) holds one
  drawn line (``path.js-line`` with a non-empty ``d``) per shown run, then until every card
  in view does. The points each run was drawn from are counted from the
  ``metrics/get-history-bulk-interval`` answers the page received.
- tracklet: a fresh page on the project workspace until its runs table lists the runs
  (``.run-count`` reads N and a ``tbody tr[data-run]`` is in the DOM), and until the first
  chart, then all charts in view, hold every selected run (the 20 newest, as the page starts).

Every figure counts from navigation start (``performance.now()`` in the page); each page is
opened once untimed (assets cached, servers warm), then ``--repeats`` times (3), the median
reported. Both servers run on this machine while the browser does, so the load average is
printed with the figures.

    python -m benchmarks.ui_mlflow [--runs 100] [--steps 1000] [--repeats 3] [--no-warmup]
                                   [--no-readme]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks import data, harness, load, read
from benchmarks.runs import run_name
from benchmarks.ui import _WAIT_CHARTS, CHROMIUM, TIMEOUT_MS
from benchmarks.wire import Wire, finish_payload

SECTION = "Web UI against MLflow's UI (`python -m benchmarks.ui_mlflow`)"
EXPERIMENT = "uibench"
#: MLflow's log-batch limit: 1,000 metrics a request, so 100 steps of the 10 metrics.
STEPS_PER_BATCH = 100
LOADERS = 4
MLFLOW_SHOWN = 10  # its chart view shows the first 10 runs by default
MLFLOW_PAGE = 100  # its runs table loads 100 runs, then more on "Load more"
TRACKLET_SELECTED = 20  # the workspace starts with the 20 newest runs selected

# Both wait from navigation start (t0 = 0) and return ms.
# [shown, how many runs the footer counts]: MLflow lists a page of runs at a time.
_MLFLOW_TABLE = """async ([n, newest, page]) => {
  for (;;) {
    const text = document.body ? document.body.innerText : '';
    const row = [...document.querySelectorAll('.ag-row a')].some(a => a.textContent === newest);
    const m = text.match(/([0-9][0-9,]*)\\s+matching runs/);
    const listed = m ? Number(m[1].replace(/,/g, '')) : 0;
    if (row && listed >= Math.min(n, page)) return [performance.now(), listed];
    if (performance.now() > 900000) throw new Error('MLflow runs table not shown');
    await new Promise(r => setTimeout(r, 5));
  }
}"""

# [first chart drawn, all charts in view drawn, charts in view, lines per chart, charts]
_MLFLOW_CHARTS = """async ([want]) => {
  const cards = () => [...document.querySelectorAll(
    "[data-testid='experiment-view-compare-runs-card']")];
  const lines = c => [...c.querySelectorAll('.js-plotly-plot .scatterlayer path.js-line')]
    .filter(p => (p.getAttribute('d') || '').length > 10).length;
  const visible = c => { const b = c.getBoundingClientRect();
    return b.bottom > 0 && b.top < window.innerHeight && b.width > 0; };
  const until = async (test, what) => {
    for (;;) {
      if (test()) return performance.now();
      if (performance.now() > 900000) throw new Error(what + ' not drawn: ' +
        JSON.stringify(cards().map(lines)));
      await new Promise(r => setTimeout(r, 5));
    }
  };
  const full = c => lines(c) >= want;
  const first = await until(() => cards().some(full), 'first chart');
  const inView = cards().filter(visible);
  const all = await until(() => inView.every(full), 'charts in view');
  return [first, all, inView.length, want, cards().length];
}"""

_TRACKLET_TABLE = """async ([n]) => {
  for (;;) {
    const count = document.querySelector('.run-count');
    if (count && count.textContent === String(n) && document.querySelector('tbody tr[data-run]'))
      return performance.now();
    if (performance.now() > 900000) throw new Error('tracklet runs table not shown');
    await new Promise(r => setTimeout(r, 5));
  }
}"""


# tracklet: benchmarks.ui's wait, stopped once the charts in view are drawn.
_IN_VIEW = "const inView = await until(() => shown.every(done), 'charts in view');"
_RETURN_IN_VIEW = "\n  return [first, inView, inView, shown.length];"
assert _IN_VIEW in _WAIT_CHARTS


def _step(what: str) -> None:
    print(f"[ui_mlflow] {what}", file=sys.stderr, flush=True)


async def _load_tracklet(server: harness.Server, project: str, runs: int, steps: int) -> None:
    await load.ingest(server, project, runs, steps, lpr=min(steps, 1000))
    wire = Wire(server.url, server.key, connections=8)
    try:
        sem = asyncio.Semaphore(8)

        async def finish(i: int) -> None:
            last = {m: data.value(i, steps - 1, j) for j, m in enumerate(data.METRICS)}
            # The summary after finish_payload(), whose empty "files" would drop it.
            body: dict[str, Any] = {**finish_payload(), "files": {"wandb-summary.json": {
                "offset": 0, "content": [orjson.dumps({"_step": steps - 1, **last}).decode()]}}}
            async with sem:
                await wire.file_stream(harness.ENTITY, project, run_name(i), body)

        await asyncio.gather(*(finish(i) for i in range(runs)))
    finally:
        await wire.close()


def _mlflow_api(client: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post(f"/api/2.0/mlflow/{path}", content=orjson.dumps(body),
                    headers={"Content-Type": "application/json"})
    if r.status_code != 200:
        raise RuntimeError(f"MLflow {path}: {r.status_code} {r.text[:300]}")
    out: dict[str, Any] = r.json()
    return out


def _create_runs(client: httpx.Client, runs: int) -> tuple[str, list[str], float]:
    """The experiment and its runs made through MLflow's REST API: (experiment id, run ids,
    ``perf_counter()`` when the runs' creation began)."""
    exp_id = str(_mlflow_api(client, "experiments/create", {"name": EXPERIMENT})
                 ["experiment_id"])
    t0 = time.perf_counter()
    run_ids = [_mlflow_api(client, "runs/create", {
        "experiment_id": exp_id, "run_name": run_name(i),
        "start_time": int((data.T0 + i) * 1000)})["run"]["info"]["run_id"]
        for i in range(runs)]
    return exp_id, run_ids, t0


def _load_mlflow(url: str, runs: int, steps: int) -> tuple[str, float]:
    """The runs into MLflow through its REST API; returns the experiment id and seconds."""
    import concurrent.futures

    with httpx.Client(base_url=url, timeout=300) as client:
        exp_id, run_ids, t0 = _create_runs(client, runs)
    ms = int(data.T0 * 1000)

    def one(i: int) -> None:
        with httpx.Client(base_url=url, timeout=300) as c:
            for start in range(0, steps, STEPS_PER_BATCH):
                metrics = [{"key": m, "value": data.value(i, s, j), "timestamp": ms + s * 1000,
                            "step": s}
                           for s in range(start, min(start + STEPS_PER_BATCH, steps))
                           for j, m in enumerate(data.METRICS)]
                _mlflow_api(c, "runs/log-batch", {"run_id": run_ids[i], "metrics": metrics})
            _mlflow_api(c, "runs/update", {"run_id": run_ids[i], "status": "FINISHED",
                                           "end_time": ms + steps * 1000})

    # A few loaders, not one per run: MLflow's SQLAlchemy pool (5 + 10 overflow) times
    # out under 100 concurrent writers.
    with concurrent.futures.ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(one, range(runs)))
    return exp_id, time.perf_counter() - t0


def _load_mlflow_sql(url: str, db: Path, runs: int, steps: int) -> tuple[str, float]:
    """The runs into MLflow with the metric rows written straight into its SQLite store.

    log-batch takes ~4,000 points/s here (10M points would take ~40 min), and the pages
    under test only read. Experiment and runs are made through the REST API; the rows are
    those log-batch stores (``metrics``, and ``latest_metrics`` holding each key's value at
    its largest step), then each run is marked FINISHED through the API again.
    """
    import sqlite3

    with httpx.Client(base_url=url, timeout=300) as client:
        exp_id, run_ids, t0 = _create_runs(client, runs)
        ms = int(data.T0 * 1000)
        conn = sqlite3.connect(db, timeout=60)
        try:
            for i, run_id in enumerate(run_ids):
                conn.executemany(
                    "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                    "VALUES (?, ?, ?, ?, ?, 0)",
                    [(m, data.value(i, s, j), ms + s * 1000, run_id, s)
                     for s in range(steps) for j, m in enumerate(data.METRICS)])
                conn.executemany(
                    "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, "
                    "run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
                    [(m, data.value(i, steps - 1, j), ms + (steps - 1) * 1000, steps - 1,
                      run_id) for j, m in enumerate(data.METRICS)])
                conn.commit()
        finally:
            conn.close()
        for run_id in run_ids:
            _mlflow_api(client, "runs/update", {"run_id": run_id, "status": "FINISHED",
                                                "end_time": ms + steps * 1000})
    return exp_id, time.perf_counter() - t0


@contextmanager
def _mlflow_server(base: Path) -> Iterator[str]:
    from benchmarks.peers import peer_python, peer_version, start_mlflow

    py = peer_python("mlflow")
    (base / "mlflow").mkdir(parents=True, exist_ok=True)
    server = start_mlflow(py, base / "mlflow")
    try:
        yield f"MLflow {peer_version(py, 'mlflow')}|{server.url}"
    finally:
        server.stop()


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _points_per_run(answers: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for answer in answers:
        for m in answer.get("metrics", []):
            k = (m["run_id"], m["key"])
            counts[k] = counts.get(k, 0) + 1
    return counts


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Load both servers, open the pages, and return the figures: ``median`` (ms per page
    figure), ``shape`` (what each page drew), ``loads`` and load times."""
    from playwright.sync_api import sync_playwright

    runs, steps, repeats = args.runs, args.steps, args.repeats
    warmup = 0 if args.no_warmup else 1
    newest = run_name(runs - 1)
    with harness.throwaway_server() as server, harness.workdir() as base, \
            _mlflow_server(base) as named:
        mlflow_name, mlflow_url = named.split("|")
        _step(f"loading {runs} runs x {steps} steps into tracklet")
        t0 = time.perf_counter()
        asyncio.run(_load_tracklet(server, EXPERIMENT, runs, steps))
        read.wait_exported(server, EXPERIMENT, [run_name(i) for i in range(runs)], steps)
        tracklet_load = time.perf_counter() - t0
        _step(f"loading {runs} runs x {steps} steps into {mlflow_name}")
        if args.sql:
            exp_id, mlflow_load = _load_mlflow_sql(mlflow_url, base / "mlflow" / "mlflow.db",
                                                   runs, steps)
        else:
            exp_id, mlflow_load = _load_mlflow(mlflow_url, runs, steps)
        _step(f"loaded: tracklet {tracklet_load:.0f} s, MLflow {mlflow_load:.0f} s")
        results: dict[str, list[float]] = {k: [] for k in (
            "ml_table", "ml_first", "ml_view", "tk_table", "tk_first", "tk_view")}
        shape: dict[str, Any] = {}
        loads: list[float] = []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--headless", "--no-sandbox", "--disable-gpu",
                      "--disable-background-networking"])
            viewport: Any = {"width": 1400, "height": 900}
            ml = browser.new_context(base_url=mlflow_url, viewport=viewport)
            tk = browser.new_context(
                base_url=server.url, viewport=viewport,
                extra_http_headers={"Authorization": f"Bearer {server.key}"})
            try:
                for rep in range(warmup + repeats):  # warm-up rounds: caches, untimed
                    loads.append(os.getloadavg()[0])
                    _step(f"round {rep} (load {loads[-1]:.2f})")
                    page = ml.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    page.goto(f"/#/experiments/{exp_id}/runs", wait_until="commit")
                    table, listed = page.evaluate(_MLFLOW_TABLE, [runs, newest,
                                                                  MLFLOW_PAGE])
                    page.close()

                    page = ml.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    answers: list[Any] = []

                    def keep(response: Any, into: list[Any] = answers) -> None:
                        if "get-history-bulk-interval" in response.url:
                            into.append(response)

                    page.on("response", keep)
                    page.goto(f"/#/experiments/{exp_id}/runs?compareRunsMode=CHART",
                              wait_until="commit")
                    first, view, in_view, lines, cards = page.evaluate(
                        _MLFLOW_CHARTS, [min(runs, MLFLOW_SHOWN)])
                    bodies = [orjson.loads(r.body()) for r in answers]
                    max_results = {httpx.URL(r.url).params.get("max_results") for r in answers}
                    page.close()

                    page = tk.new_page()
                    page.set_default_timeout(TIMEOUT_MS)
                    page.goto(f"/{harness.ENTITY}/{EXPERIMENT}", wait_until="commit")
                    tk_table = page.evaluate(_TRACKLET_TABLE, [runs])
                    tk_first, tk_view, _, tk_in_view = page.evaluate(
                        _WAIT_CHARTS.replace(_IN_VIEW, _IN_VIEW + _RETURN_IN_VIEW),
                        [list(data.METRICS), min(runs, TRACKLET_SELECTED), 0])
                    page.close()
                    if rep == 0:
                        counts = _points_per_run(bodies)
                        shape = {"listed": listed, "in_view": in_view, "lines": lines,
                                 "cards": cards,
                                 "tk_in_view": tk_in_view, "max_results": max_results,
                                 "points": sorted(set(counts.values())),
                                 "series": len(counts)}
                    if rep < warmup:
                        continue
                    for k, v in (("ml_table", table), ("ml_first", first), ("ml_view", view),
                                 ("tk_table", tk_table), ("tk_first", tk_first),
                                 ("tk_view", tk_view)):
                        results[k].append(v)
            finally:
                ml.close()
                tk.close()
                browser.close()
    return {"runs": runs, "steps": steps, "repeats": repeats, "warmup": warmup,
            "mlflow": mlflow_name,
            "median": {k: _median(v) for k, v in results.items()}, "shape": shape,
            "loads": loads[warmup:], "tracklet_load": tracklet_load, "mlflow_load": mlflow_load,
            "sql": args.sql}


def report(got: dict[str, Any]) -> str:
    """The README section's text for :func:`measure`'s figures."""
    runs, steps, repeats = got["runs"], got["steps"], got["repeats"]
    med, shape, mlflow_name = got["median"], got["shape"], got["mlflow"]
    tracklet_load, mlflow_load = got["tracklet_load"], got["mlflow_load"]
    load_line = ", ".join(f"{x:.2f}" for x in got["loads"])
    points = shape["points"]
    drawn = (f"{points[0]:,}" if len(points) == 1 else
             f"{points[0]:,} to {points[-1]:,}") if points else "none"
    command = "python -m benchmarks.ui_mlflow" + (
        f" --runs {runs} --steps {steps}" if (runs, steps) != (100, 1000) else "") + (
        " --sql" if got.get("sql") else "")
    mlflow_how = (f"its metric rows written straight into its SQLite store "
                  f"(`metrics` and `latest_metrics`, the rows log-batch writes; runs made "
                  f"and finished through its REST API), {mlflow_load:.0f} s"
                  if got.get("sql") else
                  f"REST log-batch of 1,000 metrics, {LOADERS} loaders, {mlflow_load:.0f} s")

    def row(what: str, ml_ms: float, tk_ms: float) -> str:
        return f"| {what} | {ml_ms:.0f} ms | {tk_ms:.0f} ms | {ml_ms / tk_ms:.1f}x |"

    return "\n".join([
        f"{runs:,} runs x 10 metrics x {steps:,} steps, all finished (tracklet: compacted "
        f"to Parquet), the same values in both; `{command}` on {harness.machine_line()}. "
        f"{mlflow_name}: `mlflow server` on SQLite, one worker. Loaded in "
        f"{tracklet_load:.0f} s (tracklet, file_stream, then compaction awaited); MLflow: "
        f"{mlflow_how}. "
        f"Median of {repeats} opens after {got['warmup']} untimed warm-up; load average (1 min) "
        "at each "
        f"timed round: {load_line} (2 CPUs, shared with the servers and the browser).",
        "",
        "| page, from navigation start | MLflow | tracklet | MLflow / tracklet |",
        "|---|---:|---:|---:|",
        row(f"runs table shows the {runs:,} runs" if shape["listed"] >= runs else
            f"runs table shows the runs (MLflow: its first page, {shape['listed']:,} runs; "
            f"tracklet: all {runs:,})", med["ml_table"], med["tk_table"]),
        row("first chart drawn", med["ml_first"], med["tk_first"]),
        row("all charts in view drawn", med["ml_view"], med["tk_view"]),
        "",
        f"What each draws: MLflow's chart view draws its first {shape['lines']} runs (its "
        f"default run visibility), one Plotly chart per metric ({shape['cards']} chart cards "
        f"in the DOM then, {shape['in_view']} of them in view); tracklet's workspace draws "
        f"the {min(runs, TRACKLET_SELECTED)} newest runs (its default selection), one uPlot "
        f"chart per metric ({shape['tk_in_view']} in view). MLflow's charts are sampled "
        "by step (the first and last step kept): the page asked "
        "`metrics/get-history-bulk-interval` with `max_results="
        f"{'/'.join(sorted(str(x) for x in shape['max_results']))}` and drew {drawn} points "
        f"per run and metric ({shape['series']} series) of the {steps:,} logged, so a spike "
        "between its samples is not drawn; tracklet draws each run as the last value per "
        "pixel-wide bucket with the bucket's min-max band, so no extreme is lost. "
        "MLflow \"runs table\" is its table view (`/#/experiments/<id>/runs`) until the footer "
        "reads the run count and the newest run's name is a grid row (`.ag-row a`); \"chart "
        "drawn\" is a `[data-testid=experiment-view-compare-runs-card]` holding one "
        "`.js-plotly-plot .scatterlayer path.js-line` with a non-empty path per shown run "
        "(the legend's lines not counted). tracklet's table "
        "is on the same page as its charts (`.run-count` reads the count and a "
        "`tbody tr[data-run]` is in the DOM); its chart counts as drawn when the uPlot "
        "instance holds every selected run's series (as `benchmarks.ui`).",
        "",
        f"Not measured here: MLflow with all {runs:,} runs made visible in its chart view (it "
        f"draws {MLFLOW_SHOWN} by default; tracklet draws {min(runs, TRACKLET_SELECTED)}, so "
        "the ratio does not favour tracklet on that count). Both pages run "
        "against servers on the same 2 CPUs as the browser; the figures move with the load "
        "average.",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui_mlflow",
                                     description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--sql", action="store_true",
                        help="write MLflow's metric rows straight into its SQLite store "
                             "(log-batch is too slow for 1,000 runs)")
    parser.add_argument("--no-warmup", action="store_true",
                        help="time the first (cold) opens too, no untimed round")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run scripts/system-deps.sh", file=sys.stderr)
        return 1
    body = report(measure(args))
    print(body)
    if not args.no_readme:
        harness.replace_section(SECTION if args.runs == 100 else f"{SECTION}, {args.runs:,} runs",
                                body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
