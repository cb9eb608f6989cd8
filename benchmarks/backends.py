"""The load and read workloads on PostgreSQL + S3 beside SQLite + a local folder, and
``--workers 2`` beside one process on PostgreSQL, all in one invocation.

Unless ``--db``/``--blobs`` name them, a throwaway PostgreSQL cluster
(``scripts/pg-throwaway.sh``) and an S3 endpoint (moto's server, ``scripts/moto-s3.sh``)
are started on loopback as the tests start them, and stopped afterwards. Every figure is
compared with the SQLite + disk one measured in the same run: on a shared 2-CPU machine the
ratios mean something, the absolute rates little.

Load: ``benchmarks.load``'s closed loop at ``--runs`` runs (default 64) on a fresh server of
each deployment, every row read back and every value compared, beside the same batches
written straight into that deployment's storage layer (the floor). Read:
``benchmarks.read``'s one-metric scans (paged and columnar, on a compacted run) and the
chart series (live and compacted) on each deployment.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from benchmarks import data, harness, load, read

SCRIPTS = harness.ROOT.parent / "scripts"
# moto accepts any credentials, but boto3 will not sign a request without some.
S3_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
          "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


@dataclass(frozen=True)
class Deployment:
    """Where a server keeps its data, and how many processes serve it."""

    label: str
    db: str | None
    blobs: str | None
    workers: int = 1

    def args(self, base: argparse.Namespace) -> argparse.Namespace:
        """``base``'s options with this deployment's stores and process count."""
        return argparse.Namespace(**{**vars(base), "db": self.db, "blobs": self.blobs,
                                     "workers": self.workers})


def _script(*args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run([str(SCRIPTS / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=180, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} {args[1]} failed: {proc.stderr.strip()[-400:]}")
    return proc.stdout.strip()


@contextmanager
def team_backends(db: str | None, blobs: str | None) -> Iterator[tuple[str, str]]:
    """(PostgreSQL URL, s3:// URL): the given ones, or throwaway servers started here."""
    with tempfile.TemporaryDirectory(prefix="tracklet-backends-") as tmp:
        pg_dir, moto_dir = Path(tmp) / "pg", Path(tmp) / "moto"
        started: list[tuple[str, Path]] = []
        try:
            if not db:
                pg_dir.mkdir(mode=0o755)
                os.chmod(tmp, 0o755)  # the cluster runs as the postgres user under root
                db = _script("pg-throwaway.sh", "start", str(pg_dir))
                started.append(("pg-throwaway.sh", pg_dir))
            if blobs and os.environ.get("TRACKLET_S3_ENDPOINT_URL"):
                # The servers inherit it; this process's reads of their stores need it too.
                harness.SERVER_ENV["TRACKLET_S3_ENDPOINT_URL"] = os.environ[
                    "TRACKLET_S3_ENDPOINT_URL"]
            if not blobs:
                harness.SERVER_ENV.update(S3_ENV)
                os.environ.update(S3_ENV)  # this process reads the bucket back too
                endpoint = _script("moto-s3.sh", "start", str(moto_dir),
                                   env={"PYTHON": sys.executable})
                started.append(("moto-s3.sh", moto_dir))
                harness.SERVER_ENV["TRACKLET_S3_ENDPOINT_URL"] = endpoint
                import boto3

                boto3.client("s3", endpoint_url=endpoint,
                             region_name="us-east-1").create_bucket(Bucket="tracklet-bench")
                blobs = "s3://tracklet-bench/b"
            yield db, blobs
        finally:
            for script, folder in reversed(started):
                with suppress(RuntimeError):
                    _script(script, "stop", str(folder))


def measure_load(args: argparse.Namespace, base: Path,
                 deployments: Sequence[Deployment]) -> harness.Table:
    """The closed-loop ingest at ``args.runs`` runs on each deployment."""
    total = load.QUICK_LINES if args.quick else load.BASE_LINES * args.scale
    table = harness.Table(
        f"load: {args.runs} runs, closed loop, ~{total * data.N_METRICS:,} points",
        ["deployment", "points/s", "vs SQLite + disk", "vs floor", "floor points/s",
         "p50 ms", "p99 ms", "retries", "zero loss"])
    first: float | None = None
    for n, dep in enumerate(deployments):
        res, floor_s, ok, detail = load.measure_level(dep.args(args), base / f"load-{n}",
                                                      args.runs, total, load.LINES_PER_REQUEST)
        first = first or res.points_per_s
        lat = [x * 1000 for x in res.stats.latencies]
        table.add(dep.label, res.points_per_s, harness.ratio(res.points_per_s, first),
                  harness.ratio(res.points_per_s, res.points / floor_s), res.points / floor_s,
                  harness.percentile(lat, 50), harness.percentile(lat, 99), res.stats.retried,
                  "yes" if ok else f"NO: {detail}")
        print(f"  {dep.label}: {res.points_per_s:,.0f} points/s; {detail}", flush=True)
    table.notes += [
        "vs SQLite + disk: this row's rate over the first row's, measured minutes apart in "
        "the same invocation.",
        "vs floor: over the same batches written straight into that deployment's storage "
        "layer from one thread (on PostgreSQL, the same database server).",
        "zero loss: every row read back from the server's storage, every value compared.",
        "Target (issue 22): PostgreSQL ingest at 64 runs >= 500,000 points/s with 2 server "
        "processes.",
    ]
    return table


def measure_reads(args: argparse.Namespace, base: Path,
                  deployments: Sequence[Deployment]) -> harness.Table:
    """``benchmarks.read``'s scans and charts on each deployment, side by side."""
    scan_steps, chart_runs, chart_steps, _ = read.sizes(args.read_scale, args.quick)
    per: list[harness.Table] = []
    for n, dep in enumerate(deployments):
        t = harness.Table(dep.label, ["query", "ms", "points/s", "floor ms", "vs floor",
                                      "exact"])
        read.measure_scan(dep.args(args), base / f"scan-{n}", scan_steps, t)
        read.measure_chart(dep.args(args), base / f"chart-{n}", chart_runs, chart_steps, t)
        per.append(t)
        print(f"  reads on {dep.label}: done", flush=True)
    columns = ["query"]
    for dep in deployments:
        columns += [f"{dep.label} ms", f"{dep.label} exact"]
    columns += [f"{d.label} / {deployments[0].label}" for d in deployments[1:]]
    table = harness.Table(f"read: scans of {scan_steps:,} steps, chart {chart_runs} runs x "
                          f"10 metrics x {chart_steps:,} steps", columns)
    for i, row in enumerate(per[0].rows):
        cells = [row[0]]
        times: list[float | None] = []
        for t in per:
            ms, exact = t.rows[i][1], t.rows[i][5]
            cells += [ms, exact]
            try:
                times.append(float(ms.replace(",", "")))
            except ValueError:
                times.append(None)
        cells += [harness.ratio(x, times[0]) for x in times[1:]]
        table.rows.append(cells)
    table.notes += [
        "ms: one read (columnar endpoint: best of 5 alternated with its pyarrow floor), as "
        "benchmarks.read measures it; a ratio over 1x is slower than SQLite + disk.",
        "On S3 a compacted run's Parquet parts are fetched once into the server's local "
        "cache (as on any deployment's first read after a restart), then read from it.",
    ]
    return table


def uptime() -> str:
    """The load averages as ``uptime`` shows them (this machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.backends``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = harness.parser("benchmarks.backends", __doc__.splitlines()[0] if __doc__ else "")
    p.set_defaults(scale=10)
    p.add_argument("--runs", type=int, default=64, help="concurrent runs of the load phase")
    p.add_argument("--read-scale", type=int, choices=harness.SCALES, default=10,
                   help="size multiplier of the read phase")
    p.add_argument("--only", nargs="*", choices=["load", "read"], default=None)
    args = p.parse_args(argv)
    # Stopped with SIGTERM, still stop the servers and clusters started here.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        return _run(args, argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    only = set(args.only or ["load", "read"])
    loads = [uptime()]
    tables = []
    with harness.workdir(args.keep) as base, team_backends(args.db, args.blobs) as (db, blobs):
        sqlite = Deployment("SQLite + disk", None, None)
        team = Deployment("PostgreSQL + S3", db, blobs)
        if "load" in only:
            tables.append(measure_load(args, base, [
                sqlite, team, Deployment("PostgreSQL + S3, --workers 2", db, blobs, 2)]))
            loads.append(uptime())
        if "read" in only:
            tables.append(measure_reads(args, base, [sqlite, team]))
            loads.append(uptime())
    for t in tables:
        print()
        print(t.text())
    print(f"\nload averages (1/5/15 min) at start and after each phase: {', '.join(loads)}")
    if args.quick or args.no_readme:
        return 0
    parts = ["### Backends: PostgreSQL + S3 beside SQLite + disk", "",
             f"Command: `{harness.command_line('benchmarks.backends', argv)}`  ",
             f"Recorded {time.strftime('%Y-%m-%d %H:%M')} on {harness.machine_line()}; load "
             f"averages (1/5/15 min) at the start and after each phase: {'; '.join(loads)}. "
             "PostgreSQL: a throwaway cluster (fsync off) and moto's S3 server on the same "
             "2 CPUs as the tracklet servers and the load generator.", ""]
    for t in tables:
        parts += [f"**{t.title}**", "", t.markdown(), ""]
        parts += [f"{n}  " for n in t.notes]
        parts.append("")
    harness.update_readme("backends", "\n".join(parts))
    print(f"\n(recorded in {harness.README.relative_to(harness.ROOT.parent)}, "
          "section backends)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
