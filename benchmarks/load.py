"""Ingest under load: N concurrent runs streaming history over file_stream, zero loss.

For each concurrency level (1, 8, 64, 256 runs) a fresh server gets the runs created through
GraphQL UpsertBucket, then every run posts file_stream requests back to back (closed loop:
the next request leaves when the previous one is answered, far faster than the SDK's 15 s
interval), each carrying ``--lines`` history lines of 10 metrics with contiguous offsets.
Throughput is points (metric values) per second of wall time; latency is per delivery
(retries included). Afterwards every row is read back from the server's storage and each
value compared with the generator's, so a level only counts when nothing was lost.

Floor: the same lines, in the same batches, written straight into the storage layer
(``live.write_history`` inside ``Database.write``) in this process, on a fresh store.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from benchmarks import data, harness, soak
from benchmarks.runs import create_runs, run_name, stored_counts
from benchmarks.wire import Stats, StreamWire, Wire, finish_payload, history_payload

PROJECT = "load"
LEVELS = (1, 8, 64, 256)
BASE_LINES = 20_000
QUICK_LINES = 2_000
LINES_PER_REQUEST = 100
MIN_REQUESTS_PER_RUN = 4
PACED_TICKS = 20


@dataclass
class IngestResult:
    """What one ingest pass did and saw."""

    runs: int
    lines_per_run: int
    lines_per_request: int
    seconds: float
    stats: Stats
    client_cpu_s: float
    names: list[str] = field(default_factory=list)

    @property
    def points(self) -> int:
        """Metric values sent (10 per line; _step/_runtime/_timestamp not counted)."""
        return self.runs * self.lines_per_run * data.N_METRICS

    @property
    def points_per_s(self) -> float:
        """Sustained ingest rate."""
        return self.points / self.seconds


def plan(runs: int, total_lines: int, lpr: int = LINES_PER_REQUEST) -> int:
    """Lines per run: the total split evenly, at least a few requests each, whole requests."""
    per_run = max(total_lines // runs, MIN_REQUESTS_PER_RUN * lpr)
    return -(-per_run // lpr) * lpr


def bodies(run: int, lines_per_run: int, lpr: int) -> list[bytes]:
    """Every file_stream body of one run, encoded ahead of time."""
    return [orjson.dumps(history_payload(
                offset, data.history_lines(run, offset, min(offset + lpr, lines_per_run))))
            for offset in range(0, lines_per_run, lpr)]


async def ingest(server: harness.Server, project: str, runs: int, lines_per_run: int,
                 lpr: int = LINES_PER_REQUEST, *, first_run: int = 0,
                 finish: bool = False,
                 on_start: Callable[[], object] | None = None) -> IngestResult:
    """Create ``runs`` runs and stream ``lines_per_run`` history lines into each.

    Bodies are encoded before the clock starts and every run has its own connection, so the
    generator spends as little of the shared CPU as it can (httpx's pool bookkeeping grows
    with the number of connections in one pool). ``on_start`` is called just before the
    clock starts (the profiler hooks in there, so run creation is not in the profile).
    """
    names = [run_name(first_run + i) for i in range(runs)]
    admin = Wire(server.url, server.key, connections=8)
    try:
        await create_runs(admin, project, names)
    finally:
        await admin.close()
    payloads = [bodies(first_run + i, lines_per_run, lpr) for i in range(runs)]
    stats = Stats()
    wires = [StreamWire(server.url, server.key, stats=stats) for _ in names]
    try:

        async def stream(wire: StreamWire, name: str, run_bodies: list[bytes]) -> None:
            for body in run_bodies:
                await wire.file_stream(harness.ENTITY, project, name, body)

        if on_start is not None:
            on_start()
        cpu0, t0 = time.process_time(), time.perf_counter()
        await asyncio.gather(*(stream(w, n, b)
                               for w, n, b in zip(wires, names, payloads, strict=True)))
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        if finish:
            done = Stats()
            for w in wires:
                w.stats = done
            await asyncio.gather(*(w.file_stream(harness.ENTITY, project, n, finish_payload())
                                   for w, n in zip(wires, names, strict=True)))
    finally:
        for w in wires:
            await w.close()
    return IngestResult(runs, lines_per_run, lpr, seconds, stats, cpu, names)


async def paced(server: harness.Server, project: str, runs: int, lines_per_run: int,
                rate_pps: float, lpr: int = LINES_PER_REQUEST) -> IngestResult:
    """Open loop, like the SDK: each run produces lines at a steady rate and, on every tick,
    sends everything produced since its last request (one request in flight per run).

    The tick is chosen so a request nominally carries ``lpr`` lines; when the server falls
    behind, requests grow instead of piling up, exactly as the SDK's file_stream batching
    does. Ticks are staggered so runs do not fire in lockstep. Each run's lines are encoded
    before the clock starts (as in the closed loop), so producing them costs the shared CPU
    only the slicing.
    """
    names = [run_name(i) for i in range(runs)]
    admin = Wire(server.url, server.key, connections=8)
    try:
        await create_runs(admin, project, names)
    finally:
        await admin.close()
    lines_per_s = rate_pps / data.N_METRICS / runs
    tick = lpr / lines_per_s
    produced_lines = [data.history_lines(i, 0, lines_per_run) for i in range(runs)]
    stats = Stats()
    wires = [StreamWire(server.url, server.key, stats=stats) for _ in names]
    loop = asyncio.get_running_loop()
    try:
        t0 = loop.time()

        async def stream(idx: int, wire: StreamWire, name: str) -> None:
            start = t0 + tick * idx / runs
            sent = 0
            k = 1
            while sent < lines_per_run:
                await asyncio.sleep(max(0.0, start + k * tick - loop.time()))
                produced = min(lines_per_run, int((loop.time() - start) * lines_per_s))
                k = int((loop.time() - start) / tick) + 1
                if produced <= sent:
                    continue
                await wire.file_stream(harness.ENTITY, project, name, history_payload(
                    sent, produced_lines[idx][sent:produced]))
                sent = produced

        cpu0 = time.process_time()
        await asyncio.gather(*(stream(i, w, n) for i, (w, n) in enumerate(zip(wires, names,
                                                                               strict=True))))
        seconds = loop.time() - t0
        cpu = time.process_time() - cpu0
    finally:
        for w in wires:
            await w.close()
    return IngestResult(runs, lines_per_run, lpr, seconds, stats, cpu, names)


def measure_paced(args: argparse.Namespace, base: Path, runs: int, total: int, lpr: int,
                  rate_pps: float) -> tuple[IngestResult, bool, str]:
    """One paced level on a fresh server: offered ``rate_pps``, then verify.

    At least PACED_TICKS requests per run, so the staggered start and the last partial tick
    do not dilute the achieved rate.
    """
    per_run = max(plan(runs, total, lpr), PACED_TICKS * lpr)
    with harness.running_server(args, base, f"paced-{runs}") as server:
        result = asyncio.run(paced(server, PROJECT, runs, per_run, rate_pps, lpr))
        ok, detail = verify(server, PROJECT, result.names, per_run)
    return result, ok, detail


# -- verification -------------------------------------------------------------------------


def verify(server: harness.Server, project: str, names: Sequence[str], lines_per_run: int,
           first_run: int = 0, check_values: bool = True) -> tuple[bool, str]:
    """Read every run back from the server's storage: row counts and, optionally, values."""
    try:
        from tracklet.storage.history.read.tiers import open_history
        from tracklet.storage.metadata import runs as run_repo
    except ImportError as exc:
        return False, f"storage API changed ({exc}); update benchmarks/load.py verify()"
    storage = server.storage()
    try:
        with storage.db.read() as conn:
            ids = []
            for n in names:
                run = run_repo.find_run_by_path(conn, harness.ENTITY, project, n)
                if run is None:
                    return False, f"run {n} missing"
                ids.append(run.id)
        counts = stored_counts(storage, ids)
        short = [(n, counts[i]) for n, i in zip(names, ids, strict=True)
                 if counts[i] != lines_per_run]
        if short:
            return False, f"{len(short)} runs with wrong row counts, e.g. {short[:3]}"
        if not check_values:
            return True, f"{len(names) * lines_per_run:,} rows counted"
        for idx, run_id in enumerate(ids):
            # Both tiers: a long run may have checkpoint exports besides its live rows.
            with open_history(storage, run_id) as view:
                for line_no, row in enumerate(view.rows()):
                    obj = row.data
                    if obj.get("_step") != line_no:
                        return False, f"run {names[idx]} line {line_no}: _step {obj.get('_step')}"
                    problem = data.check_row(first_run + idx, obj)
                    if problem:
                        return False, problem
    finally:
        storage.close()
    return True, f"{len(names) * lines_per_run:,} rows, every value checked"


# -- floor --------------------------------------------------------------------------------


def floor(base: Path, runs: int, lines_per_run: int, lpr: int,
          db: str | None = None) -> float:
    """Seconds to write the same batches straight into a fresh store (timed writes only)."""
    with harness.fresh_store(db, None) as (fresh_db, _):
        return _floor(base, runs, lines_per_run, lpr, fresh_db)


def _floor(base: Path, runs: int, lines_per_run: int, lpr: int, db: str | None) -> float:
    from tracklet.config import Settings
    from tracklet.domain.records import RunFields, StreamChunk
    from tracklet.ingest.runs import UpsertRequest, upsert_run
    from tracklet.storage import Storage
    from tracklet.storage.history.live import write as live

    storage = Storage.open(Settings(data_dir=base, db=db or ""))
    try:
        user, _ = storage.create_user(harness.ENTITY, admin=True)
        ids = [upsert_run(storage, user, UpsertRequest(None, run_name(i), PROJECT, None,
                                                       RunFields()))[0].id
               for i in range(runs)]
        spent = 0.0
        # Round-robin over runs, as concurrent clients would interleave.
        for offset in range(0, lines_per_run, lpr):
            for i, run_id in enumerate(ids):
                chunk = StreamChunk(offset, tuple(data.history_lines(
                    i, offset, min(offset + lpr, lines_per_run))))
                t0 = time.perf_counter()
                with storage.db.write() as conn:
                    live.write_history(conn, run_id, chunk)
                spent += time.perf_counter() - t0
    finally:
        storage.close()
    return spent


# -- profiling ----------------------------------------------------------------------------


def py_spy() -> str | None:
    """The py-spy executable: beside this interpreter, on PATH, or None."""
    import shutil

    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def start_profile(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """Start ``py-spy record --gil`` on the server: collapsed stacks of the thread holding
    the GIL, i.e. where the server's Python CPU time goes (waits on locks, the event loop's
    poll and idle worker threads are left out)."""
    exe = py_spy()
    if exe is None:
        print("py-spy not found: pip install py-spy", file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200",
         "--gil", "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def summarize_profile(raw: Path, top: int = 25) -> str:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    self_counts: dict[str, int] = {}
    incl_counts: dict[str, int] = {}
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        total += count
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                  if " (" in f else f for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and not f.startswith("thread ")]
        if not frames:
            continue
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + count
        for f in set(frames):
            incl_counts[f] = incl_counts.get(f, 0) + count
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "self time:"]
    for f, c in sorted(self_counts.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {100 * c / total:5.1f}%  {f}")
    lines += ["", "inclusive:"]
    for f, c in sorted(incl_counts.items(), key=lambda kv: -kv[1])[:top * 2]:
        lines.append(f"  {100 * c / total:5.1f}%  {f}")
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------


def measure_level(args: argparse.Namespace, base: Path, runs: int, total: int,
                  lpr: int) -> tuple[IngestResult, float, bool, str]:
    """One concurrency level on a fresh server: ingest (profiled if asked), verify, floor."""
    per_run = plan(runs, total, lpr)
    profile = getattr(args, "profile", None)
    prof_dir = Path(profile) if profile and runs == args.profile_runs else None
    prof_out = prof_dir / f"load-{runs}runs.raw.txt" if prof_dir else None
    prof: subprocess.Popen[bytes] | None = None
    with harness.running_server(args, base, f"server-{runs}") as server:

        def begin() -> None:
            # Profile only the streaming phase: called once the runs exist.
            nonlocal prof
            if prof_out is not None:
                prof = start_profile(server.pid, prof_out, args.profile_seconds)

        result = asyncio.run(ingest(server, PROJECT, runs, per_run, lpr, on_start=begin))
        if prof is not None and prof_dir is not None and prof_out is not None:
            prof.wait(timeout=args.profile_seconds + 60)
            err = prof.stderr.read().decode() if prof.stderr else ""
            if prof_out.exists():
                summary = summarize_profile(prof_out)
                (prof_dir / f"load-{runs}runs.summary.txt").write_text(summary)
                print(f"\npy-spy profile of the server at {runs} runs:\n{summary}\n")
            else:
                print(f"py-spy failed: {err}", file=sys.stderr)
        ok, detail = verify(server, PROJECT, result.names, per_run)
    floor_s = floor(base / f"floor-{runs}", runs, per_run, lpr, args.db)
    return result, floor_s, ok, detail


COLUMNS = ["runs", "points", "points/s", "vs floor", "floor points/s", "p50 ms", "p99 ms",
           "max ms", "retries", "zero loss", "client CPU"]
NOTES = [
    "points/s: metric values per second of wall time, all runs together, closed loop "
    "(each run sends its next request when the previous one is answered).",
    "vs floor: tracklet over HTTP as a fraction of the same batches written straight "
    "into the storage layer (live.write_history in Database.write, one thread).",
    "zero loss: every row read back from the server's storage, every value compared.",
    "client CPU: the load generator's own CPU share (it shares the 2 cores with the server).",
    "Targets (issue): >= 500,000 points/s sustained and p99 < 250 ms at 64 runs on SQLite.",
]


def new_table(title: str, columns: Sequence[str] = ()) -> harness.Table:
    """An empty load table (``columns`` go before the standard ones)."""
    return harness.Table(title, [*columns, *COLUMNS], notes=list(NOTES))


def add_row(table: harness.Table, res: IngestResult, floor_s: float, ok: bool, detail: str,
            *lead: object) -> None:
    """One level's figures as a table row (``lead`` cells first)."""
    floor_pps = res.points / floor_s
    lat = [x * 1000 for x in res.stats.latencies]
    codes = ",".join(f"{k}x{v}" for k, v in sorted(res.stats.statuses.items()))
    retries = f"{res.stats.retried} ({codes})" if res.stats.retried else 0
    table.add(*lead, res.runs, res.points, res.points_per_s,
              harness.ratio(res.points_per_s, floor_pps), floor_pps,
              harness.percentile(lat, 50), harness.percentile(lat, 99), max(lat), retries,
              "yes" if ok else f"NO: {detail}",
              f"{100 * res.client_cpu_s / res.seconds:.0f}%")
    print(f"  {res.runs} runs: {res.points_per_s:,.0f} points/s, floor {floor_pps:,.0f}; "
          f"{detail}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.load``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = harness.parser("benchmarks.load", __doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--runs", type=int, nargs="*", default=None,
                   help=f"concurrency levels (default {' '.join(map(str, LEVELS))})")
    p.add_argument("--lines", type=int, default=LINES_PER_REQUEST,
                   help="history lines per file_stream request")
    p.add_argument("--paced", type=float, nargs="*", default=[0.5, 0.8], metavar="FRACTION",
                   help="also offer these fractions of the closed-loop rate, SDK-style")
    p.add_argument("--paced-runs", type=int, nargs="*", default=[64], help="levels to pace")
    p.add_argument("--profile", default=None, metavar="DIR",
                   help="record the server with py-spy into DIR during one level")
    p.add_argument("--profile-runs", type=int, default=64, help="level to profile")
    p.add_argument("--profile-seconds", type=float, default=20)
    p.add_argument("--soak", type=float, default=0, metavar="SECONDS",
                   help="also stream for SECONDS at --soak-runs on one server, sampling "
                        "its VmRSS (start/end/max)")
    p.add_argument("--soak-runs", type=int, default=64)
    p.add_argument("--soak-rate", type=float, nargs="*", default=[], metavar="POINTS_PER_S",
                   help="also soak at these offered rates (open loop, the SDK's way)")
    args = p.parse_args(argv)
    levels = args.runs or ((1, 8) if args.quick else LEVELS)
    total = QUICK_LINES if args.quick else BASE_LINES * args.scale
    table = new_table(f"load: file_stream ingest, {args.lines} lines x {data.N_METRICS} "
                      f"metrics per request, ~{total * data.N_METRICS:,} points per level "
                      f"(scale x{args.scale})")
    paced_table = harness.Table(
        "load, paced: each run streams at a steady rate, the SDK's way (open loop)",
        ["runs", "offered", "offered points/s", "achieved points/s", "p50 ms", "p99 ms",
         "max ms", "retries", "zero loss"],
        notes=["offered: a fraction of the closed-loop rate measured just before at the same "
               "level; requests carry what each run produced since its last one (nominally "
               f"{args.lines} lines), one in flight per run, as the SDK sends file_stream.",
               "Target (issue): p99 < 250 ms at 64 runs."])
    failures = 0
    with harness.workdir(args.keep) as base:
        for runs in levels:
            res, floor_s, ok, detail = measure_level(args, base, runs, total, args.lines)
            add_row(table, res, floor_s, ok, detail)
            failures += not ok
            if args.quick or runs not in args.paced_runs:
                continue
            for fraction in args.paced or []:
                rate = fraction * res.points_per_s
                pres, pok, pdetail = measure_paced(args, base / f"p{fraction}", runs, total,
                                                   args.lines, rate)
                lat = [x * 1000 for x in pres.stats.latencies]
                paced_table.add(runs, f"{fraction:.0%}", rate, pres.points_per_s,
                                harness.percentile(lat, 50), harness.percentile(lat, 99),
                                max(lat), pres.stats.retried,
                                "yes" if pok else f"NO: {pdetail}")
                failures += not pok
                print(f"  paced {runs} runs at {rate:,.0f} points/s: p99 "
                      f"{harness.percentile(lat, 99):.0f} ms; {pdetail}", flush=True)
        soak_tables = []
        rates: list[float | None] = [None, *args.soak_rate] if args.soak > 0 else []
        for rate in rates:
            res_soak = soak.soak(args, base / f"soak-{rate}", args.soak_runs, args.soak,
                                 args.lines, rate_pps=rate)
            soak_tables.append(soak.table(res_soak))
            failures += not res_soak.ok
            rss = [r for _, r in res_soak.rss]
            print(f"  soak {args.soak_runs} runs {res_soak.seconds:.0f} s "
                  f"({'closed loop' if rate is None else f'{rate:,.0f} points/s'}): RSS "
                  f"{rss[0]:.0f} -> {rss[-1]:.0f} MiB (max {max(rss):.0f}); "
                  f"{res_soak.exported:,} rows in checkpoints; {res_soak.detail}", flush=True)
    tables = [table] + ([paced_table] if paced_table.rows else []) + soak_tables
    harness.report(f"load-x{args.scale}",
                   f"load: ingest throughput and latency, scale x{args.scale}", tables,
                   harness.command_line("benchmarks.load", argv), args)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
