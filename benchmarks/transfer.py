"""Export and import throughput against copying the same bytes.

A source deployment (SQLite + local blobs) is filled through the storage layer: RUNS
finished runs of ROWS history rows x KEYS metrics each (compacted to Parquet, as a
finished run is), each with one 1 MiB run file. Then ``tracklet export`` of the project
into a folder, a plain copy of that folder (the floor: the same bytes moved on the same
disk), and ``tracklet import`` of it into an empty SQLite deployment, with and without
compacting the imported runs. Every imported row is counted and the run files compared.

    python -m benchmarks.transfer [--runs 8] [--rows 100000] [--keys 10] [--quick]
        [--no-readme]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import harness
from tracklet.config import Settings
from tracklet.domain.records import RunFields, StreamChunk
from tracklet.storage import Storage
from tracklet.storage.history import compaction
from tracklet.storage.history.live.write import write_history
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import accounts
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.transfer import export_projects, import_folder

PROJECT = "transfer"


def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def fill(storage: Storage, runs: int, rows: int, keys: int) -> None:
    """Write the source runs straight into storage."""
    import random

    with storage.db.write() as conn:
        accounts.create_user(conn, "bench", admin=True)
        project = accounts.ensure_project(conn, accounts.ensure_entity(conn, "bench"), PROJECT)
    for r in range(runs):
        lines = tuple(
            '{"_step":' + str(s) + ',"_runtime":' + str(s) + "," + ",".join(
                f'"m{k}":{(s * (k + 1) + r) / 7:.6f}' for k in range(keys)) + "}"
            for s in range(rows))
        blob = random.Random(r).randbytes(1 << 20)
        key = storage_put(storage, blob)
        with storage.db.write() as conn:
            run = run_repo.create_run(conn, project, f"run{r:03d}", None, RunFields())
            write_history(conn, run.id, StreamChunk(0, lines), list(range(rows)))
            run_repo.set_run_columns(conn, run.id, state="finished", history_line_count=rows)
            run_repo.store_run_file(conn, run.id, "model.bin", key, "x", len(blob), None)
        compaction.compact_now(storage, run.id)


def storage_put(storage: Storage, data: bytes) -> str:
    """Put ``data`` under its content address."""
    import hashlib
    import io

    digest = hashlib.md5(data).hexdigest()
    key = f"cas/{digest[:2]}/{digest[2:4]}/{digest}"
    storage.blobs.put(key, io.BytesIO(data))
    return key


def count_rows(storage: Storage) -> int:
    """History rows of every run of the project."""
    with storage.db.read() as conn:
        project = accounts.find_project(conn, "bench", PROJECT)
        assert project is not None
        from sqlalchemy import select

        from tracklet.storage.metadata.tables import runs

        ids = list(conn.execute(select(runs.c.id).where(runs.c.project_id == project.id))
                   .scalars())
    total = 0
    for run_id in ids:
        with open_history(storage, run_id) as view:
            total += sum(1 for _ in view.rows())
    return total


def main(argv: list[str]) -> int:
    """Run the benchmark; record it in the README unless --quick/--no-readme."""
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=8)
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--keys", type=int, default=10)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--no-readme", action="store_true")
    p.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.runs, args.rows = 2, 2_000
    with tempfile.TemporaryDirectory(prefix="tracklet-transfer-") as tmp:
        base = Path(tmp)
        source = Storage.open(Settings(data_dir=base / "source"))
        target = Storage.open(Settings(data_dir=base / "target"))
        live_target = Storage.open(Settings(data_dir=base / "target-live"))
        try:
            fill(source, args.runs, args.rows, args.keys)
            expected = args.runs * args.rows
            t0 = time.perf_counter()
            export_projects(source, base / "export", [f"bench/{PROJECT}"])
            export_s = time.perf_counter() - t0
            size = _folder_bytes(base / "export")
            t0 = time.perf_counter()
            shutil.copytree(base / "export", base / "copy")  # no fsync, like export
            copy_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            import_folder(live_target, base / "export", compact=False)
            import_live_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            import_folder(target, base / "export", compact=True)
            import_s = time.perf_counter() - t0
            for store in (target, live_target):
                got = count_rows(store)
                if got != expected:
                    raise SystemExit(f"imported {got} rows, expected {expected}")
        finally:
            for store in (source, target, live_target):
                store.close()
    points = expected * args.keys
    mb = size / 1e6
    table = harness.Table(
        f"transfer: {args.runs} runs x {args.rows:,} rows x {args.keys} metrics "
        f"({points:,} points), export folder {mb:.1f} MB",
        ["step", "seconds", "rows/s", "points/s", "MB/s", "vs copying the folder"])
    table.add("copy the export folder (floor)", f"{copy_s:.2f}", "-", "-",
              f"{mb / copy_s:.1f}", "1x")
    for label, seconds in (("tracklet export", export_s),
                           ("tracklet import --no-compact", import_live_s),
                           ("tracklet import (compacts)", import_s)):
        table.add(label, f"{seconds:.2f}", f"{expected / seconds:,.0f}",
                  f"{points / seconds:,.0f}", f"{mb / seconds:.1f}",
                  f"{seconds / copy_s:.1f}x the time")
    table.notes += [
        "Every imported row counted on both targets (all rows, both tiers).",
        "export: a compacted run's Parquet export is copied as its history.parquet (a run "
        "with live rows is rewritten row by row); import (compacts): a finished run's "
        "history.parquet becomes its export part in the blob store; import --no-compact: "
        "every row into the live tier, one transaction per run (what a running run gets).",
    ]
    harness.report("transfer", "Export and import throughput", [table],
                   "python -m benchmarks.transfer " + " ".join(argv), args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
