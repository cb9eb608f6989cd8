"""tracklet against MLflow and Trackio: the same ingest and read, same machine, same run.

Workload: ``--runs`` runs (8) logged concurrently, ``steps`` steps of 10 metrics each, 100
steps per request; then one metric's full history read back.

- tracklet: file_stream over HTTP from the load generator (runs created with UpsertBucket);
  the metric read back as ``scan_history(keys=[m3])`` pages it (SampledHistoryPage, from a
  lean httpx client), through the columnar endpoint, and with the real wandb SDK
  (``wandb.Api().run(path).scan_history(keys=[m3], page_size=1000)``, benchmarks/sdk_read.py
  in a fresh process), live and again once the runs finished and were compacted.
- the SDK's ceiling: the same real-SDK read against benchmarks/null_responder.py, which
  answers every request of that read from bytes encoded at its startup and stores nothing.
  What the SDK's own client costs (wandb-core round trips, ``json.loads`` of every value)
  bounds any server on that path; "tracklet SDK read / SDK ceiling" says how close tracklet
  comes to a zero-cost server.
- MLflow: its tracking server (SQLite backend store, one worker) and its Python client,
  ``MlflowClient.log_batch`` (1,000 metrics a call, MLflow's limit) from one thread per run;
  read with ``get_metric_history``.
- Trackio: local-first, no server: ``trackio.init`` / ``run.log`` / ``finish`` from one
  thread per run (its background writer flushes to a SQLite file per project); read with its
  storage layer's ``get_metric_values`` (what its dashboard uses).

Each peer lives in its own virtualenv under benchmarks/.peers/ (created and filled from PyPI
on first use) and is driven by the scripts in benchmarks/peer_drivers/. ``--peers`` with no
names measures tracklet (and the SDK ceiling) alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import data, harness, load, null_history, read
from benchmarks.wire import GraphQLError, Wire, finish_payload
from tracklet import testing

RUNS = 8
BASE_STEPS = 2_000
QUICK_STEPS = 200
BATCH = 100
#: Timed reads of the target run per read path (and per peer); the median counts: one
#: read of 2,000 points is a few milliseconds, well inside this shared machine's noise.
READ_REPEATS = 3
DRIVERS = harness.ROOT / "peer_drivers"
PEER_PACKAGES = {"mlflow": ["mlflow"], "trackio": ["trackio"]}


@dataclass
class Outcome:
    """One system's figures; ``error`` says why a figure is missing."""

    name: str
    ingest_pps: float | None = None
    ingest_ok: str = "-"
    read_pps: float | None = None
    read_ok: str = "-"
    error: str = ""


def peer_python(peer: str) -> Path:
    """The interpreter of a peer's venv, created and filled on first use."""
    venv = harness.PEERS_DIR / peer
    py = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        harness.PEERS_DIR.mkdir(parents=True, exist_ok=True)
        print(f"installing {peer} into {venv} (first use only)...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        log = harness.PEERS_DIR / f"{peer}.install.log"
        with log.open("wb") as out:
            proc = subprocess.run([str(py), "-m", "pip", "install", "-q",
                                   *PEER_PACKAGES[peer]], stdout=out, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"pip install {peer} failed: {' / '.join(tail)}")
        marker.write_text(time.strftime("%Y-%m-%d"))
    return py


def peer_version(py: Path, module: str) -> str:
    """The installed version of a peer's package."""
    out = subprocess.run([str(py), "-c", f"import importlib.metadata as m; "
                          f"print(m.version('{module}'))"], capture_output=True, text=True)
    return out.stdout.strip() or "?"


def last_json(cmd: list[str], label: str, env: dict[str, str] | None = None,
              timeout: float = 1800) -> dict[str, Any]:
    """Run ``cmd`` from the repository root and parse the JSON object it prints last."""
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env}, timeout=timeout,
                          cwd=str(harness.ROOT.parent))
    lines = [x for x in proc.stdout.strip().splitlines() if x.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{label} exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-400:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def drive(py: Path, driver: str, args: list[str], env: dict[str, str],
          timeout: float = 1800) -> dict[str, Any]:
    """Run a driver script in a peer's venv and parse the JSON it prints last."""
    return last_json([str(py), str(DRIVERS / driver), *args], f"{driver} {args[0]}", env,
                     timeout)


# -- tracklet -----------------------------------------------------------------------------

SDK_LABEL = "wandb SDK scan_history (wandb.Api, real client)"
CEILING_LABEL = "wandb SDK scan_history against the null responder (SDK ceiling)"


def sdk_scan(url: str, key: str, project: str, target: str, other: str, steps: int,
             count_requests: bool = False) -> dict[str, Any]:
    """The real SDK's ``scan_history(keys=[m3], page_size=1000)`` of ``target`` (after an
    untimed scan of ``other``), in a fresh process (benchmarks/sdk_read.py)."""
    return last_json([sys.executable, "-m", "benchmarks.sdk_read", url, key, project, target,
                      other, str(steps), *(["--count-requests"] if count_requests else [])],
                     "sdk_read")


@contextmanager
def null_responder(base: Path, runs: Sequence[int], steps: int) -> Iterator[str]:
    """benchmarks/null_responder.py answering the SDK's history read of ``runs`` from
    pre-encoded answers; yields its URL."""
    port = testing.free_port()
    server = testing.launch(
        [sys.executable, "-m", "benchmarks.null_responder", str(port), "--history-runs",
         ",".join(map(str, runs)), "--steps", str(steps), "--keys", read.METRIC],
        port, base / "null-responder.log", cwd=harness.ROOT.parent, own_session=True)
    try:
        server.wait_ready(timeout=600)  # it encodes every answer before it listens
        yield server.url
    finally:
        server.stop()


@dataclass
class ReadPath:
    """One of tracklet's ways of reading the metric, on a live or a finished run."""

    label: str
    state: str
    pps: float | None = None
    ok: str = "-"
    of_ceiling: str = "-"


def run_tracklet(args: argparse.Namespace, base: Path, runs: int,
                 steps: int) -> tuple[Outcome, list[ReadPath], dict[str, str]]:
    """tracklet: ingest over file_stream, verify, then read one metric back: the SDK's
    scan_history pages, the columnar endpoint and the real wandb SDK (next to the same SDK
    against the null responder), while the runs are live and once they finished and were
    compacted to Parquet. Also returns, per state, the requests the SDK sent for its read."""
    out = Outcome("tracklet")
    paths: list[ReadPath] = []
    requests: dict[str, str] = {}
    project = "peers"
    with harness.running_server(args, base, "server-peers") as server:
        res = asyncio.run(load.ingest(server, project, runs, steps, BATCH))
        ok, detail = load.verify(server, project, res.names, steps)
        out.ingest_pps = res.points_per_s
        out.ingest_ok = "yes" if ok else f"NO: {detail}"
        target, other = res.names[0], res.names[-1]

        async def pages(wire: Wire) -> tuple[float, str | None]:
            # Untimed first: another run, so the timed read is not the server's first use
            # of this path (lazy imports, the GraphQL document cache).
            await read.scan_metric(wire, project, other, read.METRIC, steps)
            times, problem = [], None
            for _ in range(READ_REPEATS):
                t0 = time.perf_counter()
                rows = await read.scan_metric(wire, project, target, read.METRIC, steps)
                times.append(time.perf_counter() - t0)
                problem = problem or read.check_scan(rows, steps, [read.METRIC])
            return statistics.median(times), problem

        def columnar() -> tuple[float, str | None]:
            reader = read.ColumnarReader(server.url, server.key)
            try:
                reader.scan(f"{harness.ENTITY}/{project}/{other}", [read.METRIC])
                times, problem = [], None
                for _ in range(READ_REPEATS):
                    t0 = time.perf_counter()
                    columns = reader.scan(f"{harness.ENTITY}/{project}/{target}",
                                          [read.METRIC])
                    times.append(time.perf_counter() - t0)
                    problem = problem or read.check_columns(columns, steps, read.METRIC)
            finally:
                reader.close()
            return statistics.median(times), problem

        def real_sdk(state: str, url: str | None) -> None:
            # The same read against tracklet, then against the null responder (same runs,
            # same data, every answer pre-encoded): tracklet's share of the SDK's read.
            null_project = project + ("" if state == "live" else null_history.EXPORTED_SUFFIX)
            mine = ReadPath(SDK_LABEL, state)
            ceiling = ReadPath(CEILING_LABEL, state)
            paths.extend([mine, ceiling])
            for path, where, proj in ((mine, server.url, project),
                                      (ceiling, url, null_project)):
                if where is None:
                    path.ok = "could not run: no null responder"
                    continue
                try:
                    res = sdk_scan(where, server.key, proj, target, other, steps,
                                   count_requests=path is ceiling)
                except (RuntimeError, subprocess.SubprocessError) as exc:
                    path.ok = f"could not run: {str(exc)[:200]}"
                    continue
                path.pps = steps / float(res["seconds"])
                path.ok = "yes" if res["problem"] is None else f"NO: {res['problem']}"
                if path is ceiling:
                    requests[state] = ", ".join(f"{n} {k}" for k, n in
                                                sorted(res["requests"].items()))
            mine.of_ceiling = harness.ratio(mine.pps, ceiling.pps)

        async def both(state: str) -> None:
            wire = Wire(server.url, server.key, connections=2)
            try:
                for label, fn in (("scan_history pages (SampledHistoryPage)", None),
                                  ("columnar endpoint (Arrow IPC)", columnar)):
                    path = ReadPath(label, state)
                    paths.append(path)
                    try:
                        secs, problem = (await pages(wire) if fn is None
                                         else await asyncio.to_thread(fn))
                    except (GraphQLError, KeyError, TypeError, read.Unsupported) as exc:
                        path.ok = f"{read.NOT_IMPLEMENTED} ({str(exc)[:80]})"
                        continue
                    path.pps = steps / secs
                    path.ok = "yes" if problem is None else f"NO: {problem}"
            finally:
                await wire.close()

        async def finish() -> None:
            wire = Wire(server.url, server.key, connections=8)
            try:
                await asyncio.gather(*(wire.file_stream(harness.ENTITY, project, n,
                                                        finish_payload())
                                       for n in res.names))
            finally:
                await wire.close()

        with null_responder(base / "null-responder", [0, len(res.names) - 1],
                            steps) as null_url:
            asyncio.run(both("live"))
            out.read_pps, out.read_ok = paths[0].pps, paths[0].ok
            real_sdk("live", null_url)
            asyncio.run(finish())
            read.wait_exported(server, project, res.names, steps)
            asyncio.run(both("finished, compacted"))
            real_sdk("finished, compacted", null_url)
    return out, paths, requests


# -- MLflow -------------------------------------------------------------------------------


def start_mlflow(py: Path, base: Path) -> testing.ServerProcess:
    """``mlflow server`` on SQLite, one worker, in its own process group."""
    port = testing.free_port()
    server = testing.launch(
        [str(py.parent / "mlflow"), "server", "--backend-store-uri",
         f"sqlite:///{base / 'mlflow.db'}", "--default-artifact-root", str(base / "artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        port, base / "mlflow-server.log", own_session=True)
    try:
        server.wait_ready(timeout=180, path="/health")
    except testing.ServerFailed:
        raise RuntimeError("mlflow server did not start: " + server.log()[-400:]) from None
    return server


def run_mlflow(base: Path, runs: int, steps: int) -> Outcome:
    """MLflow tracking server + log_batch, then get_metric_history."""
    out = Outcome("MLflow")
    try:
        py = peer_python("mlflow")
        out.name = f"MLflow {peer_version(py, 'mlflow')}"
        mlflow = start_mlflow(py, base / "mlflow")
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        out.error = str(exc)
        return out
    try:
        env = {"MLFLOW_TRACKING_URI": mlflow.url}
        ing = drive(py, "mlflow_driver.py", ["ingest", "--runs", str(runs), "--steps",
                                             str(steps), "--batch", str(BATCH)], env)
        out.ingest_pps = runs * steps * data.N_METRICS / float(ing["seconds"])
        out.ingest_ok = "yes" if not ing["errors"] else f"NO: {ing['errors']}"
        run_ids = ",".join(ing["run_ids"])
        rd = drive(py, "mlflow_driver.py", ["read", "--runs", str(runs), "--steps", str(steps),
                                            "--run-ids", run_ids], env)
        out.read_pps = steps / float(rd["seconds"])
        out.read_ok = "yes" if rd["ok"] and rd["all_runs_complete"] else f"NO: {rd}"
    except (RuntimeError, subprocess.SubprocessError) as exc:
        out.error = str(exc)
    finally:
        mlflow.stop()
    return out


# -- Trackio ------------------------------------------------------------------------------


def run_trackio(base: Path, runs: int, steps: int) -> Outcome:
    """Trackio's log API into its local SQLite, then its metric-values read."""
    out = Outcome("Trackio")
    try:
        py = peer_python("trackio")
        out.name = f"Trackio {peer_version(py, 'trackio')}"
        env = {"TRACKIO_DIR": str(base / "trackio"), "HF_HUB_OFFLINE": "1",
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1"}
        ing = drive(py, "trackio_driver.py", ["ingest", "--runs", str(runs), "--steps",
                                              str(steps)], env)
        out.ingest_pps = runs * steps * data.N_METRICS / float(ing["seconds"])
        out.ingest_ok = "yes" if not ing["errors"] else f"NO: {ing['errors']}"
        rd = drive(py, "trackio_driver.py", ["read", "--runs", str(runs), "--steps",
                                             str(steps)], env)
        out.read_pps = steps / float(rd["seconds"])
        out.read_ok = "yes" if rd["ok"] and rd["all_runs_complete"] else f"NO: {rd}"
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        out.error = str(exc)
    return out


# -- main ---------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.peers``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = harness.parser("benchmarks.peers", "tracklet vs MLflow and Trackio")
    p.add_argument("--runs", type=int, default=RUNS, help="concurrent runs")
    p.add_argument("--peers", nargs="*", choices=["mlflow", "trackio"],
                   default=["mlflow", "trackio"])
    args = p.parse_args(argv)
    steps = QUICK_STEPS if args.quick else BASE_STEPS * args.scale
    runs = args.runs
    with harness.workdir(args.keep) as base:
        mine, paths, requests = run_tracklet(args, base, runs, steps)
        print(f"  tracklet: ingest {harness.fmt(mine.ingest_pps)} points/s, "
              f"read {harness.fmt(mine.read_pps)} points/s ({mine.read_ok})", flush=True)
        others = []
        if "mlflow" in args.peers:
            others.append(run_mlflow(base, runs, steps))
        if "trackio" in args.peers:
            others.append(run_trackio(base, runs, steps))
    table = harness.Table(
        f"peers: {runs} runs x {steps:,} steps x {data.N_METRICS} metrics "
        f"({runs * steps * data.N_METRICS:,} points), {BATCH} steps a request; read: "
        f"one metric's {steps:,} points",
        ["system", "ingest points/s", "tracklet ingest is", "ingest verified",
         "read points/s", "tracklet read is", "read verified"])
    for o in [mine, *others]:
        if o.error:
            table.add(o.name, "-", "-", f"could not run: {o.error[:200]}", "-", "-", "-")
            continue
        table.add(o.name, o.ingest_pps, harness.ratio(mine.ingest_pps, o.ingest_pps),
                  o.ingest_ok, o.read_pps, harness.ratio(mine.read_pps, o.read_pps), o.read_ok)
    table.notes += [
        "'tracklet ingest is' / 'tracklet read is': tracklet's rate as a multiple of that "
        "system's, measured in this same invocation (1x = equal; '-' = a side could not run).",
        "tracklet's read here is the pages the wandb SDK's scan_history(keys=[m3]) asks for "
        "(SampledHistoryPage GraphQL, 1,000 steps a page), sent by a lean httpx client, on "
        "the runs while still live; the real SDK's figures are in the second table. Every "
        "read path of each system reads one untimed run first, then the target run 3 times; "
        "the median counts.",
        "Trackio has no server: its figures are in-process writes to SQLite, no HTTP.",
        "Target (issue): >= 20x MLflow on ingest and on reading a full metric history.",
    ]
    peers_read = {o.name.split()[0]: o.read_pps for o in others if not o.error}
    reads = harness.Table(
        f"peers: tracklet's read paths for one metric's {steps:,} points, live and after "
        "the runs finished", ["tracklet read", "run", "points/s",
                              *(f"vs {name}" for name in peers_read),
                              "tracklet SDK read / SDK ceiling", "verified"])
    for path in paths:
        reads.add(path.label, path.state, path.pps,
                  *(harness.ratio(path.pps, pps) for pps in peers_read.values()),
                  path.of_ceiling, path.ok)
    reads.notes += [
        "scan_history pages: what the wandb SDK sends (SampledHistoryPage, 1,000 steps a "
        "page). columnar endpoint: GET /api/v1/runs/history, one Arrow IPC stream read with "
        "one keep-alive HTTP connection + pyarrow (MLflow's client, too, reuses its connection).",
        "live: the runs are still running (rows in the live tier); finished, compacted: "
        "after the final file_stream request, once the history sits in its Parquet export.",
        "vs <peer>: tracklet's rate over that system's read rate in the first table.",
        f"{SDK_LABEL}: wandb==0.31.0's wandb.Api().run(path).scan_history(keys=[m3], "
        "page_size=1000) in a fresh process, timed from the scan_history call to the last "
        "row (api.run outside the timing), every row checked like the other paths; after the "
        "untimed scan of another run the target is scanned 3 times and the median counts "
        "(here and for the ceiling: one SDK scan is short and noisy).",
        "SDK ceiling: the same call against benchmarks/null_responder.py, which answers "
        "every request the SDK sends from bytes encoded at its startup (the same rows) and "
        "stores nothing: the fastest any server can make this SDK read. "
        "'tracklet SDK read / SDK ceiling' is tracklet's rate over the ceiling's (1x: "
        "tracklet costs the SDK no more than a zero-cost server).",
        "What limits the SDK path even with a zero-cost server is the SDK itself (the "
        "pages are sequential, so the server's time per page adds to it): wandb 0.31 sends "
        "each page through its "
        "wandb-core service process (protobuf over a local socket, then HTTP to the server) "
        "and then json.loads every value of every row in Python "
        "(HistoryScan._convert_history_row_to_dict); on a live run each scan_history first "
        "fetches every live step as {\"_step\": n} (RunParquetHistory liveData) only to find "
        "where live data starts. On a finished run wandb-core reads the Parquet export "
        "itself through its Rust reader with HTTP Range requests, no GraphQL pages.",
        *(f"Requests the SDK sent for the timed read ({state}, counted at the null "
          f"responder): {sent}." for state, sent in requests.items()),
    ]
    harness.report(f"peers-x{args.scale}", f"peers: scale x{args.scale}", [table, reads],
                   harness.command_line("benchmarks.peers", argv), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
