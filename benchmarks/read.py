"""Reads: exact metric scans, downsampled charts and a filtered, sorted runs listing.

- scan: one run with ``steps`` steps of 10 metrics (1,000,000 at --scale 100), read back the
  way ``scan_history`` pages it: SampledHistoryPage (one key, 1,000 steps a page) and
  HistoryPage (every key); and one key through tracklet's columnar endpoint
  (``GET /api/v1/runs/history``, an Arrow IPC stream read by pyarrow). Floor: pyarrow
  reading the same columns from a Parquet file.
- chart: 100 runs x 10 metrics x ``steps`` steps (100,000 at --scale 100), downsampled to
  1,000 buckets with per-bucket min/max/last by ``GET /api/v1/runs/series``, once while the
  runs are still running (rows in the live tier) and once after they finished and were
  compacted to Parquet. Floor: pyarrow reading the columns and computing the same
  aggregates.
- runs: ``n`` runs (10,000 at --scale 100) with summary metrics, listed with the Runs query
  ``api.runs`` sends, filtered on ``summary_metrics.acc > 0.5`` and ordered by it, every page.
  Floor: pyarrow reading name/acc from Parquet, filtering and sorting.

Every answer is checked against the generated data; an endpoint or field that does not exist
yet is reported as "not implemented" instead of failing the whole benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from benchmarks import data, harness, load
from benchmarks.runs import run_name
from benchmarks.wire import (
    HISTORY_PAGE,
    RUNS,
    SAMPLED_HISTORY_PAGE,
    GraphQLError,
    Wire,
    finish_payload,
    history_payload,
)
from tracklet.testing import series_oracle

PAGE = 1_000
SCAN_STEPS = 10_000
CHART_RUNS = 100
CHART_STEPS = 1_000
CHART_BUCKETS = 1_000
LIST_RUNS = 100
METRIC = "m3"
NOT_IMPLEMENTED = "not implemented"


class Unsupported(Exception):
    """The server does not offer what this read needs (yet)."""


# -- the reads themselves -----------------------------------------------------------------


async def scan_metric(wire: Wire, project: str, run: str, key: str, steps: int,
                      page: int = PAGE) -> list[dict[str, Any]]:
    """One key of a run, paged like scan_history(keys=[key]): SampledHistoryPage per page."""
    rows: list[dict[str, Any]] = []
    for lo in range(0, steps, page):
        hi = min(lo + page, steps)
        spec = orjson.dumps({"keys": [key, "_step"], "minStep": lo, "samples": hi - lo,
                             "maxStep": hi - 1}).decode()
        d = await wire.graphql(SAMPLED_HISTORY_PAGE, {"entity": harness.ENTITY,
                                                      "project": project, "run": run,
                                                      "spec": spec})
        for part in d["project"]["run"]["sampledHistory"]:
            rows.extend(part)
    return rows


class ColumnarReader:
    """``GET /api/v1/runs/history`` over one keep-alive HTTP connection (as MLflow's client
    reuses its requests session), each answer decoded by pyarrow as it arrives: what a
    Python client of tracklet does."""

    def __init__(self, url: str, key: str) -> None:
        import base64
        import http.client
        import urllib.parse

        parts = urllib.parse.urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1",
                                                parts.port or 80, timeout=600)
        token = base64.b64encode(f"api:{key}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}"}

    def scan(self, path: str, keys: Sequence[str]) -> dict[str, Any]:
        """``keys`` of the run at ``path`` as numpy arrays, with ``_step``."""
        import urllib.parse

        import pyarrow as pa

        query = urllib.parse.urlencode({"run": path, "keys": ",".join(keys)})
        self._conn.request("GET", f"/api/v1/runs/history?{query}", headers=self._headers)
        resp = self._conn.getresponse()
        if resp.status != 200:
            resp.read()
            raise Unsupported(NOT_IMPLEMENTED if resp.status == 404 else f"HTTP {resp.status}")
        table = pa.ipc.open_stream(resp).read_all()
        resp.read()  # the end of a chunked body, so the connection can be reused
        return {name: table.column(name).to_numpy() for name in table.column_names}

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def check_columns(columns: dict[str, Any], steps: int, key: str) -> str | None:
    """None when the columns hold exactly steps 0..steps-1 and ``key``'s generated values."""
    import numpy as np

    got_steps, values = columns.get("_step"), columns.get(key)
    if got_steps is None or values is None:
        return f"columns {sorted(columns)}, want _step and {key}"
    if len(got_steps) != steps or not np.array_equal(got_steps, np.arange(steps)):
        return f"{len(got_steps)} steps, not 0..{steps - 1}"
    want = np.array([data.value(0, s, int(key[1:])) for s in range(steps)])
    if not np.array_equal(values, want):
        bad = int(np.flatnonzero(values != want)[0])
        return f"step {bad}: {key} = {values[bad]}, want {want[bad]}"
    return None


async def scan_rows(wire: Wire, project: str, run: str, steps: int,
                    page: int = PAGE) -> list[dict[str, Any]]:
    """Every key of a run, paged like scan_history(): HistoryPage per page."""
    rows: list[dict[str, Any]] = []
    for lo in range(0, steps, page):
        hi = min(lo + page, steps)
        d = await wire.graphql(HISTORY_PAGE, {"entity": harness.ENTITY, "project": project,
                                              "run": run, "minStep": lo, "maxStep": hi,
                                              "pageSize": hi - lo})
        rows.extend(orjson.loads(line) for line in d["project"]["run"]["history"])
    return rows


async def chart(wire: Wire, project: str, runs: Sequence[str], keys: Sequence[str],
                buckets: int, timeout: float = 1800) -> Any:
    """The chart-series endpoint; Unsupported when it answers 404."""
    paths = ",".join(f"{harness.ENTITY}/{project}/{r}" for r in runs)
    resp = await wire.client.get("/api/v1/runs/series", params={
        "runs": paths, "keys": ",".join(keys), "buckets": str(buckets)}, timeout=timeout)
    if resp.status_code == 404:
        raise Unsupported(NOT_IMPLEMENTED)
    if resp.status_code != 200:
        raise Unsupported(f"HTTP {resp.status_code}: {resp.text[:200]}")
    return orjson.loads(resp.content)


async def list_runs(wire: Wire, project: str, filters: dict[str, Any], order: str,
                    per_page: int = 50) -> list[str]:
    """Every page of the Runs query as ``api.runs(filters=..., order=...)`` sends it."""
    names: list[str] = []
    cursor = None
    while True:
        d = await wire.graphql(RUNS, {"project": project, "entity": harness.ENTITY,
                                      "cursor": cursor, "perPage": per_page, "order": order,
                                      "filters": orjson.dumps(filters).decode()})
        conn = (d.get("project") or {}).get("runs")
        if conn is None:
            raise GraphQLError("project.runs answered null")
        names.extend(e["node"]["name"] for e in conn["edges"])
        if not conn["pageInfo"]["hasNextPage"]:
            return names
        cursor = conn["pageInfo"]["endCursor"]


# -- checks -------------------------------------------------------------------------------


def check_scan(rows: list[dict[str, Any]], steps: int, keys: Sequence[str]) -> str | None:
    """None when ``rows`` are exactly steps 0..steps-1 with the generated values."""
    if len(rows) != steps:
        return f"{len(rows)} rows, want {steps}"
    for i, r in enumerate(rows):
        if r.get("_step") != i:
            return f"row {i} has _step {r.get('_step')}"
        problem = data.check_row(0, r, keys)
        if problem:
            return problem
    return None


def check_chart(answer: Any, runs: int, keys: Sequence[str], steps: int,
                buckets: int) -> str | None:
    """Spot-check the series answer: every run and key present, bucket extremes right.

    The shape is ``{"start", "bucketWidth", "runs": [{"run": path, "series": {key:
    {"bucket": [...], "count": [...], "min": [...], "max": [...], "last": [...]}}}]}``.
    """
    try:
        series = answer["runs"]
        if len(series) != runs:
            return f"{len(series)} runs in answer, want {runs}"
        width = max(1, -(-steps // buckets))
        if answer["bucketWidth"] != width or answer["start"] != 0:
            return f"axis start {answer['start']} width {answer['bucketWidth']}, want 0 {width}"
        for key in keys:
            col = series[0]["series"][key]
            if len(col["bucket"]) != -(-steps // width):
                return f"{key}: {len(col['bucket'])} buckets, want {-(-steps // width)}"
            for b in (0, len(col["bucket"]) - 1):
                lo, hi = b * width, min(steps, (b + 1) * width)
                rows = [{"_step": s, key: data.value(0, s, int(key[1:]))} for s in range(lo, hi)]
                want = series_oracle.expected_series(rows, key, 0, width)
                got = {c: col[c][b:b + 1] for c in series_oracle.COLUMNS}
                bad = series_oracle.mismatches(got, want)
                if bad:
                    return f"bucket {b} of {key}: (column, _, got, want) {bad}"
    except (KeyError, IndexError, TypeError) as exc:
        return f"unexpected answer shape ({exc!r})"
    return None


def acc_of(i: int) -> float:
    """The summary metric the runs listing filters and sorts on (distinct per run)."""
    return ((i * 7919) % 10_007) / 10_007


# -- floors -------------------------------------------------------------------------------


def best_of(fn: Any, tries: int = 3) -> float:
    """The fastest of a few timings of ``fn()``."""
    best = float("inf")
    for _ in range(tries):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def floor_scan(path: Path, columns: list[str]) -> float:
    """pyarrow reading ``columns`` of the file."""
    import pyarrow.parquet as pq

    return best_of(lambda: pq.read_table(path, columns=columns))


def floor_chart(path: Path, keys: Sequence[str], steps: int, buckets: int) -> float:
    """pyarrow reading the columns and computing per-bucket min/max/last per run and key."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    width = max(1, -(-steps // buckets))

    def go() -> None:
        t = pq.read_table(path, columns=["run", "_step", *keys])
        t = t.append_column("bucket", pc.divide(t["_step"], pa.scalar(width, pa.int64())))
        aggs = [(k, f) for k in keys for f in ("min", "max", "last")]
        t.group_by(["run", "bucket"], use_threads=False).aggregate(aggs)

    return best_of(go)


def floor_runs(path: Path) -> float:
    """pyarrow reading name/acc, filtering acc > 0.5 and sorting by acc descending."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    def go() -> None:
        t = pq.read_table(path, columns=["name", "acc"])
        t = t.filter(pc.greater(t["acc"], 0.5))
        t.sort_by([("acc", "descending")])

    return best_of(go)


# -- workloads ----------------------------------------------------------------------------


async def _probe(wire: Wire, project: str, fn: Any, keys: Sequence[str]) -> str | None:
    """None when a history read answers correctly on a tiny run, else why not."""
    try:
        rows = await fn(wire, project, "probe", 5)
    except (GraphQLError, KeyError, TypeError) as exc:
        return f"{NOT_IMPLEMENTED} ({str(exc)[:100]})"
    problem = check_scan(rows, 5, keys)
    return None if problem is None else f"wrong answer: {problem}"


async def _scan_one(wire: Wire, project: str, run: str, steps: int) -> list[dict[str, Any]]:
    return await scan_metric(wire, project, run, METRIC, steps)


def measure_scan(args: argparse.Namespace, base: Path, steps: int, table: harness.Table) -> None:
    """Scan one metric and all metrics of a ``steps``-step run; floor from Parquet."""
    base.mkdir(parents=True, exist_ok=True)
    path = base / "scan.parquet"
    data.write_parquet(path, [0], steps)
    cases = [
        (f"scan 1 metric ({steps:,} steps, SampledHistoryPage)", _scan_one, [METRIC],
         floor_scan(path, ["_step", METRIC]), steps),
        (f"scan all 10 metrics ({steps:,} steps, HistoryPage)", scan_rows, list(data.METRICS),
         floor_scan(path, ["_step", *data.METRICS]), steps * data.N_METRICS),
    ]
    project = "scan"
    with harness.running_server(args, base, "server-scan") as server:

        async def go() -> list[tuple[float, str | None] | tuple[float, str | None, float] | str]:
            wire = Wire(server.url, server.key, connections=4)
            try:
                await wire.upsert_run(project, "probe")
                await wire.file_stream(harness.ENTITY, project, "probe",
                                       history_payload(0, data.history_lines(0, 0, 5)))
                probes = [await _probe(wire, project, fn, keys) for _, fn, keys, _, _ in cases]
                if all(probes):
                    return [str(p) for p in probes]
                await load.ingest(server, project, 1, steps, lpr=min(steps, 2_000))
                await wire.file_stream(harness.ENTITY, project, run_name(0),
                                       finish_payload())
                await asyncio.to_thread(wait_exported, server, project, [run_name(0)],
                                        steps)
                out: list[tuple[float, str | None] | tuple[float, str | None, float] | str] = []
                for (_, fn, keys, _, _), probe in zip(cases, probes, strict=True):
                    if probe:
                        out.append(probe)
                        continue
                    t0 = time.perf_counter()
                    rows = await fn(wire, project, run_name(0), steps)
                    out.append((time.perf_counter() - t0, check_scan(rows, steps, keys)))
                out.append(await asyncio.to_thread(measure_columnar, server, project, steps,
                                                     path))
                return out
            finally:
                await wire.close()

        results = asyncio.run(go())
    columnar = (f"scan 1 metric ({steps:,} steps, columnar endpoint, Arrow IPC)", None,
                [METRIC], cases[0][3], steps)
    if len(results) == len(cases):
        results.append("not measured: the paged reads failed")
    for (label, _, _, fl, n), res in zip([*cases, columnar], results, strict=True):
        if isinstance(res, str):
            table.add(label, res, "-", fl * 1000, "-", "-")
            continue
        secs, problem = res[0], res[1]
        if len(res) == 3:
            fl = res[2]  # measured alternately with the endpoint's reads
        table.add(label, secs * 1000, n / secs, fl * 1000, harness.ratio(secs, fl),
                  "yes" if problem is None else f"NO: {problem}")


def measure_columnar(server: harness.Server, project: str, steps: int, floor_path: Path,
                     tries: int = 5) -> tuple[float, str | None, float] | str:
    """(best, problem, floor best) of ``tries`` reads of one metric through the columnar
    endpoint, each timed from the request to the decoded Arrow table, alternated with the
    floor's read of the same columns so both meet the same machine state (right after an
    ingest, a compaction and many paged reads, the shared VM runs everything slower for a
    while). One untimed read of each comes first."""
    import pyarrow.parquet as pq

    path = f"{harness.ENTITY}/{project}/{run_name(0)}"
    best = floor = float("inf")
    reader = ColumnarReader(server.url, server.key)
    try:
        try:
            columns = reader.scan(path, [METRIC])
        except Unsupported as exc:
            return str(exc)
        pq.read_table(floor_path, columns=["_step", METRIC])
        for _ in range(tries):
            t0 = time.perf_counter()
            pq.read_table(floor_path, columns=["_step", METRIC])
            floor = min(floor, time.perf_counter() - t0)
            t0 = time.perf_counter()
            columns = reader.scan(path, [METRIC])
            best = min(best, time.perf_counter() - t0)
    finally:
        reader.close()
    return best, check_columns(columns, steps, METRIC), floor


def wait_exported(server: harness.Server, project: str, names: Sequence[str], rows: int,
                  timeout: float = 1800) -> None:
    """Wait until every run's history sits in its Parquet export (the tier finished runs
    are read from), so a measurement does not race the compaction."""
    from tracklet.storage.history.read.tiers import open_history
    from tracklet.storage.metadata import runs as run_repo

    storage = server.storage()
    try:
        with storage.db.read() as conn:
            ids = [run_repo.get_run_by_path(conn, harness.ENTITY, project, n).id for n in names]
        deadline = time.monotonic() + timeout
        for run_id in ids:
            while True:
                with open_history(storage, run_id) as view:
                    if view.fully_exported and sum(e.row_count for e in view.exports) == rows:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError("compaction did not finish")
                time.sleep(0.5)
    finally:
        storage.close()


def measure_chart(args: argparse.Namespace, base: Path, runs: int, steps: int,
                  table: harness.Table) -> None:
    """Downsample 10 metrics of ``runs`` runs to 1,000 buckets: first while the runs are
    still running (every row in the live tier), then once they finished and were compacted
    to Parquet."""
    base.mkdir(parents=True, exist_ok=True)
    path = base / "chart.parquet"
    data.write_parquet(path, list(range(runs)), steps)
    fl = floor_chart(path, data.METRICS, steps, CHART_BUCKETS)
    label = f"chart {runs} runs x 10 metrics x {steps:,} steps -> {CHART_BUCKETS:,} buckets"
    labels = [f"{label}, live runs (before compaction)", label]
    project = "chart"
    with harness.running_server(args, base, "server-chart") as server:

        async def go() -> list[tuple[float, str | None]] | str:
            wire = Wire(server.url, server.key, connections=4)
            try:
                await wire.upsert_run(project, "probe")
                try:
                    await chart(wire, project, ["probe"], ["m0"], 10)
                except Unsupported as exc:
                    return str(exc)
                await load.ingest(server, project, runs, steps, lpr=min(steps, 1_000))
                names = [run_name(i) for i in range(runs)]
                out: list[tuple[float, str | None]] = []
                t0 = time.perf_counter()
                answer = await chart(wire, project, names, data.METRICS, CHART_BUCKETS)
                secs = time.perf_counter() - t0
                out.append((secs, check_chart(answer, runs, data.METRICS, steps,
                                              CHART_BUCKETS)))
                del answer
                for name in names:
                    await wire.file_stream(harness.ENTITY, project, name, finish_payload())
                await asyncio.to_thread(wait_exported, server, project, names, steps)
                t0 = time.perf_counter()
                answer = await chart(wire, project, names, data.METRICS, CHART_BUCKETS)
                secs = time.perf_counter() - t0
                out.append((secs, check_chart(answer, runs, data.METRICS, steps,
                                              CHART_BUCKETS)))
                return out
            finally:
                await wire.close()

        res = asyncio.run(go())
    if isinstance(res, str):
        for lab in labels:
            table.add(lab, res, "-", fl * 1000, "-", "-")
        return
    for lab, (secs, problem) in zip(labels, res, strict=True):
        table.add(lab, secs * 1000, runs * steps * data.N_METRICS / secs, fl * 1000,
                  harness.ratio(secs, fl), "yes" if problem is None else f"NO: {problem}")


def measure_runs(args: argparse.Namespace, base: Path, n: int, table: harness.Table) -> None:
    """List ``n`` runs filtered and ordered by a summary metric, every page."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [run_name(i) for i in range(n)]
    accs = [acc_of(i) for i in range(n)]
    base.mkdir(parents=True, exist_ok=True)
    path = base / "runs.parquet"
    pq.write_table(pa.table({"name": names, "acc": accs}), path)
    fl = floor_runs(path)
    expected = [nm for nm, a in sorted(zip(names, accs, strict=True), key=lambda x: -x[1])
                if a > 0.5]
    label = f"runs listing: {n:,} runs, filter + sort on summary acc, 50 a page"
    project = "listing"
    filters = {"$and": [{"summary_metrics.acc": {"$gt": 0.5}}]}
    order = "-summary_metrics.acc"
    with harness.running_server(args, base, "server-runs") as server:

        async def go() -> tuple[float, str | None] | str:
            wire = Wire(server.url, server.key, connections=16)
            try:
                await wire.upsert_run(project, names[0], summary={"acc": accs[0], "loss": 1.0})
                try:
                    await list_runs(wire, project, filters, order)
                except (GraphQLError, KeyError, TypeError) as exc:
                    return f"{NOT_IMPLEMENTED} ({str(exc)[:120]})"
                sem = asyncio.Semaphore(16)

                async def one(i: int) -> None:
                    async with sem:
                        await wire.upsert_run(project, names[i],
                                              summary={"acc": accs[i], "loss": 1 - accs[i]})

                await asyncio.gather(*(one(i) for i in range(1, n)))
                t0 = time.perf_counter()
                got = await list_runs(wire, project, filters, order)
                secs = time.perf_counter() - t0
                problem = None if got == expected else (
                    f"{len(got)} runs listed (want {len(expected)}), first {got[:3]}")
                return secs, problem
            finally:
                await wire.close()

        res = asyncio.run(go())
    if isinstance(res, str):
        table.add(label, res, "-", fl * 1000, "-", "-")
        return
    secs, problem = res
    table.add(label, secs * 1000, len(expected) / secs, fl * 1000, harness.ratio(secs, fl),
              "yes" if problem is None else f"NO: {problem}")


def sizes(scale: int, quick: bool) -> tuple[int, int, int, int]:
    """(scan steps, chart runs, chart steps, listed runs) for a scale."""
    if quick:
        return 2_000, 10, 200, 60
    return SCAN_STEPS * scale, CHART_RUNS, CHART_STEPS * scale, LIST_RUNS * scale


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.read``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = harness.parser("benchmarks.read", "reads: scans, charts and runs listing vs pyarrow")
    p.add_argument("--only", nargs="*", choices=["scan", "chart", "runs"], default=None)
    args = p.parse_args(argv)
    only = set(args.only or ["scan", "chart", "runs"])
    scan_steps, chart_runs, chart_steps, n_runs = sizes(args.scale, args.quick)
    table = harness.Table(f"read (scale x{args.scale})",
                          ["query", "tracklet ms", "points/s", "floor ms", "vs floor",
                           "exact"])
    with harness.workdir(args.keep) as base:
        if "scan" in only:
            measure_scan(args, base, scan_steps, table)
        if "chart" in only:
            measure_chart(args, base, chart_runs, chart_steps, table)
        if "runs" in only:
            measure_runs(args, base, n_runs, table)
    table.notes += [
        "vs floor: tracklet's time over the floor's (pyarrow on a local Parquet file holding "
        "the same columns; best of 3); lower is better, 1x would match the floor.",
        "columnar endpoint: GET /api/v1/runs/history read over one keep-alive HTTP "
        "connection + pyarrow (pa.ipc.open_stream on the response), timed from the request "
        "to the decoded table; after one untimed read, 5 reads alternated with 5 of its "
        "floor, best of each (right after the ingest and paged scans this VM runs slower "
        "for a while, and alternating puts both in the same state).",
        "points/s for runs listing: matching runs returned per second.",
        "exact: every returned value compared with the generated data (chart: bucket 0 "
        "min/max/last of the first run; runs: names and order of every matching run).",
        "Targets (issue): chart < 3x floor, scan within 2x of floor.",
    ]
    harness.report(f"read-x{args.scale}", f"read: scale x{args.scale}", [table],
                   harness.command_line("benchmarks.read", argv), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
