"""``python -m benchmarks``: list the workloads; ``--quick`` runs them all at tiny sizes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time

WORKLOADS = {
    "load": "file_stream ingest at 1/8/64/256 concurrent runs: points/s, p50/p99, zero loss; "
            "floor: straight storage-layer writes",
    "peers": "same ingest + one metric's history read, against MLflow and Trackio",
    "read": "1-metric scan, 100-run chart series, 10k-run filtered listing; floor: pyarrow",
    "growth": "each workload at x1, x10, x100",
    "query": "SQL console: best val/acc per run over 1,000 runs x 1,000 steps; floor: DuckDB "
             "on the Parquet files; peers: /api/v1/runs/history paging, wandb.Api()",
    "w1_sdk_online_vs_offline": "the real wandb SDK, online vs offline (separate helper)",
    "client_log": "the light client's run.log() vs the wandb SDK's: calls/s, p50/p99/max",
    "sweep_search": "sweep search quality: bayes vs random vs grid on Branin and Hartmann-6",
    "sweep_heartbeat": "32 agents on one sweep: heartbeat latency and runs handed out per "
                       "second; floor: viewer { id }",
    "transfer": "tracklet export / import rows/s and MB/s; floor: copying the export folder",
    "backends": "load (64 runs) and read workloads on PostgreSQL + S3 beside SQLite + disk, "
                "and --workers 2 vs 1 on PostgreSQL; starts its own PostgreSQL and moto",
    "importers": "import-mlflow / import-wandb rows/s; floor: each source's own client "
                 "reading the same data",
    "fuzz": "hostile input in process: file_stream, schema-drawn GraphQL, raw bodies; "
            "counts by status, zero 5xx / leaks / changes to another user's run",
    "cost": "nested, aliased and oversized GraphQL refused; another user's viewer p99 while "
            "an attacker sends them, vs none",
    "ui": "the web UI in headless chromium: workspace charts at 10/100/1,000 runs vs "
          "fetching the same series; 10,000-run table scroll",
}


def main(argv: list[str]) -> int:
    """List the workloads, or with --quick run each one's quick mode."""
    if "--quick" not in argv:
        print("tracklet benchmarks (each figure is a ratio to a floor or peer, same run):\n")
        for name, what in WORKLOADS.items():
            print(f"  python -m benchmarks.{name:<26} {what}")
        print("\nOptions: --scale 1|10|100, --quick, --db URL, --blobs URL, --no-readme.")
        print("python -m benchmarks --quick    runs every workload at smoke-test size.")
        return 0
    failed = []
    start = time.monotonic()
    for name in WORKLOADS:
        if importlib.util.find_spec(f"benchmarks.{name}") is None:
            print(f"\n== {name}: not present, skipped")
            continue
        print(f"\n== {name} --quick", flush=True)
        t0 = time.monotonic()
        # A subprocess each, so one workload's state (or crash) cannot touch the next.
        rc = subprocess.call([sys.executable, "-m", f"benchmarks.{name}", *argv])
        print(f"== {name}: {time.monotonic() - t0:.0f} s", flush=True)
        if rc:
            failed.append(name)
    print(f"\nall quick runs: {time.monotonic() - start:.0f} s"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
