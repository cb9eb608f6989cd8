"""Sustained load with the server's memory watched: ``python -m benchmarks.load --soak S``.

N runs stream history back to back (closed loop, 100 lines a request, contiguous offsets,
bodies generated as they go from a per-run template, so the generator's own CPU stays small
next to the server's) for S seconds against one server while its VmRSS is sampled
every few seconds from /proc. A server that holds what it ingests (an unbounded queue, a
cache that only grows) shows as RSS rising with the data; a flat RSS is the goal. Every run's
stored row count is then compared with what it was acknowledged.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from benchmarks import data, harness
from benchmarks.runs import create_runs, run_name, stored_counts
from benchmarks.wire import Stats, StreamWire, Wire, history_payload

PROJECT = "soak"


def vm_rss_mib(pid: int) -> float | None:
    """The process's resident set size in MiB, None when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class RssSampler:
    """Samples a process's VmRSS every ``interval`` seconds in a background thread."""

    pid: int
    interval: float = 3.0
    samples: list[tuple[float, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _sample(self) -> None:
        rss = vm_rss_mib(self.pid)
        if rss is not None:
            self.samples.append((time.perf_counter() - self._t0, rss))

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.interval):
                return


@dataclass
class SoakResult:
    """What a soak did: points stored, rate, latencies, RSS samples, verification."""

    runs: int
    seconds: float
    lines: int
    stats: Stats
    rss: list[tuple[float, float]]
    ok: bool
    detail: str
    exported: int = 0
    rate_pps: float | None = None


async def _stream(server: harness.Server, runs: int, seconds: float, lpr: int,
                  acked: list[int], stats: Stats, rate_pps: float | None = None) -> None:
    names = [run_name(i) for i in range(runs)]
    admin = Wire(server.url, server.key, connections=8)
    try:
        await create_runs(admin, PROJECT, names)
    finally:
        await admin.close()
    wires = [StreamWire(server.url, server.key, stats=stats) for _ in names]
    deadline = time.perf_counter() + seconds
    # Each run's metric values are those of its step 0 line; only _step changes per line.
    tails = [data.history_lines(i, 0, 1)[0].split(",", 1)[1] for i in range(runs)]

    async def one(i: int) -> None:
        tail = tails[i]
        while time.perf_counter() < deadline:
            off = acked[i]
            lines = [f'{{"_step":{s},{tail}' for s in range(off, off + lpr)]
            body = orjson.dumps(history_payload(off, lines))
            await wires[i].file_stream(harness.ENTITY, PROJECT, names[i], body)
            acked[i] = off + lpr

    loop = asyncio.get_running_loop()
    t0 = loop.time()

    async def paced(i: int) -> None:
        # Open loop, as load.paced: lines are produced at a steady rate and each tick sends
        # what was produced since the last request, one request in flight.
        assert rate_pps is not None
        tail = tails[i]
        lines_per_s = rate_pps / data.N_METRICS / runs
        tick = lpr / lines_per_s
        start, end = t0 + tick * i / runs, t0 + seconds
        k = 1
        while True:
            await asyncio.sleep(max(0.0, start + k * tick - loop.time()))
            now = loop.time()
            if now >= end:
                return
            produced = int((now - start) * lines_per_s)
            k = int((now - start) / tick) + 1
            off = acked[i]
            if produced <= off:
                continue
            lines = [f'{{"_step":{s},{tail}' for s in range(off, produced)]
            body = orjson.dumps(history_payload(off, lines))
            await wires[i].file_stream(harness.ENTITY, PROJECT, names[i], body)
            acked[i] = produced

    try:
        await asyncio.gather(*((one if rate_pps is None else paced)(i)
                               for i in range(runs)))
    finally:
        for w in wires:
            await w.close()


def soak(args: argparse.Namespace, base: Path, runs: int, seconds: float, lpr: int,
         interval: float = 3.0, rate_pps: float | None = None) -> SoakResult:
    """Run the soak on a fresh server (closed loop, or offered ``rate_pps`` points/s) and
    verify every acknowledged row is stored."""
    from tracklet.storage.metadata import runs as run_repo

    acked = [0] * runs
    stats = Stats()
    with harness.running_server(args, base, f"soak-{runs}") as server:
        with RssSampler(server.pid, interval) as sampler:
            t0 = time.perf_counter()
            asyncio.run(_stream(server, runs, seconds, lpr, acked, stats, rate_pps))
            took = time.perf_counter() - t0
        storage = server.storage()
        try:
            with storage.db.read() as conn:
                ids = [run_repo.get_run_by_path(conn, harness.ENTITY, PROJECT, run_name(i)).id
                       for i in range(runs)]
            counts = stored_counts(storage, ids)
            exported = exported_rows(storage, ids)
        finally:
            storage.close()
    wrong = [(i, counts.get(rid, 0), acked[i]) for i, rid in enumerate(ids)
             if counts.get(rid, 0) != acked[i]]
    ok = not wrong
    detail = (f"{sum(acked):,} rows, every acknowledged row counted" if ok
              else f"{len(wrong)} runs short, e.g. {wrong[:3]}")
    return SoakResult(runs, took, sum(acked), stats, sampler.samples, ok, detail, exported,
                      rate_pps)


def exported_rows(storage: Any, run_ids: list[int]) -> int:
    """Rows the runs hold in Parquet exports (checkpoints, for running runs)."""
    from tracklet.storage.history.read.tiers import open_history

    total = 0
    for run_id in run_ids:
        with open_history(storage, run_id) as view:
            total += sum(e.row_count for e in view.exports)
    return total


def table(res: SoakResult) -> harness.Table:
    """The soak's figures: rate, latency, and the server's RSS start/end/max."""
    t = harness.Table(
        f"load, soak: {res.runs} runs streaming "
        + ("closed loop" if res.rate_pps is None else f"at {res.rate_pps:,.0f} points/s offered")
        + f" for {res.seconds:.0f} s, server RSS sampled",
        ["runs", "seconds", "points", "points/s", "p50 ms", "p99 ms", "retries", "zero loss",
         "rows in checkpoints",
         "RSS samples", "RSS start MiB", "RSS at half time MiB", "RSS end MiB",
         "RSS max MiB"],
        notes=["RSS: the server process's VmRSS from /proc, sampled every few seconds "
               "from when the server is up (runs not yet created) to the end of the soak; "
               "half time against end tells a plateau from a steady climb.",
               "zero loss here: each run's stored row count equals the lines it was "
               "acknowledged.",
               "rows in checkpoints: rows the running runs hold in Parquet exports at the "
               "end; checkpoints yield to a busy server, so under a saturating load rows "
               "stay live."])
    lat = [x * 1000 for x in res.stats.latencies]
    rss = [r for _, r in res.rss]
    points = res.lines * data.N_METRICS
    t.add(res.runs, res.seconds, points, points / res.seconds,
          harness.percentile(lat, 50) if lat else 0,
          harness.percentile(lat, 99) if lat else 0, res.stats.retried,
          "yes" if res.ok else f"NO: {res.detail}", res.exported, len(rss),
          rss[0] if rss else 0, rss[len(rss) // 2] if rss else 0, rss[-1] if rss else 0,
          max(rss) if rss else 0)
    return t
