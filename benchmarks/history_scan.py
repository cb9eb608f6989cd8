"""``scan_history`` and ``beta_scan_history`` of 100,000 rows x 10 keys, in rows per second,
against the floor: the same rows read straight from storage in the same process.

Live tier: the run is still running, so the SDK pages through ``HistoryPage`` (GraphQL);
the floor streams the rows from the metadata DB and parses them. Exported tier: the run
ended and was compacted; the SDK downloads the Parquet part and reads it with its native
reader; the floor reads the same file with pyarrow into Python rows.

    python -m benchmarks.history_scan [--rows N] [--keys K]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from benchmarks.harness import replace_section, throwaway_server, timed, wandb_api
from benchmarks.wire import Wire, finish_payload, history_payload
from tracklet.config import Settings
from tracklet.storage import Storage
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import runs as run_repo

ENTITY, PROJECT, RUN = "admin", "bench", "scan"
BATCH = 10_000  # history lines per file_stream request


async def _write(url: str, key: str, rows: int, keys: int) -> None:
    """Create the run and stream ``rows`` history lines of ``keys`` floats and a summary
    through file_stream, as the SDK would; the run stays running."""
    wire = Wire(url, key)
    try:
        await wire.upsert_run(PROJECT, RUN, entity=ENTITY)
        last: dict[str, float] = {}
        for offset in range(0, rows, BATCH):
            lines = []
            for step in range(offset, min(offset + BATCH, rows)):
                last = {"_step": step, "_runtime": step * 0.1, "_timestamp": 1.7e9 + step,
                        **{f"metric_{j}": ((step + 1) * (j + 3)) % 1009 / 1009
                           for j in range(keys)}}
                lines.append(orjson.dumps(last).decode())
            await wire.file_stream(ENTITY, PROJECT, RUN, history_payload(offset, lines))
        await wire.file_stream(ENTITY, PROJECT, RUN, {"files": {"wandb-summary.json": {
            "offset": 0, "content": [orjson.dumps(last).decode()]}}})
    finally:
        await wire.close()


async def _finish(url: str, key: str) -> None:
    wire = Wire(url, key)
    try:
        await wire.file_stream(ENTITY, PROJECT, RUN, finish_payload())
    finally:
        await wire.close()


def _wait_exported(storage: Storage, run_id: int, rows: int) -> None:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with open_history(storage, run_id) as view:
            if view.fully_exported and sum(e.row_count for e in view.exports) == rows:
                return
        time.sleep(0.5)
    raise RuntimeError("compaction did not finish")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=10)
    args = parser.parse_args()
    n, k = args.rows, args.keys
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    results: list[tuple[str, float, float, str]] = []
    with throwaway_server() as srv:
        t_write, _ = timed(lambda: asyncio.run(_write(srv.url, srv.key, n, k)))
        storage = Storage.open(Settings(data_dir=srv.data_dir), migrate=False)
        with storage.db.read() as conn:
            run_id = run_repo.get_run_by_path(conn, ENTITY, PROJECT, RUN).id
        api = wandb_api(srv, work / "sdk")
        path = f"{ENTITY}/{PROJECT}/{RUN}"

        def floor_live() -> int:
            with open_history(storage, run_id) as view:
                return sum(1 for row in view.rows() if row.data)

        t_floor_live, got = timed(floor_live)
        assert got == n
        t_live, got = timed(lambda: sum(1 for _ in api.run(path).scan_history()))
        assert got == n
        t_live_keys, got = timed(lambda: sum(1 for _ in api.run(path).scan_history(
            keys=["metric_0", "metric_1"])))
        assert got == n
        results += [
            ("live: floor (DB rows, parsed)", t_floor_live, 1.0, ""),
            ("live: scan_history()", t_live, t_live / t_floor_live, "HistoryPage, 1000/page"),
            ("live: scan_history(keys=2)", t_live_keys, t_live_keys / t_floor_live,
             "SampledHistoryPage"),
        ]

        asyncio.run(_finish(srv.url, srv.key))
        t_compact, _ = timed(lambda: _wait_exported(storage, run_id, n))
        with open_history(storage, run_id) as view:
            part = storage.files.path(view.exports[0].blob_key)
            size = view.exports[0].size_bytes
        t_floor_pq, got = timed(lambda: len(pq.read_table(part).to_pylist()))
        assert got == n
        api.flush()
        cache = work / "sdk" / "cache"
        shutil.rmtree(cache, ignore_errors=True)
        t_cold, got = timed(lambda: sum(1 for _ in api.run(path).scan_history()))
        assert got == n
        t_warm, got = timed(lambda: sum(1 for _ in api.run(path).scan_history()))
        assert got == n
        t_beta, got = timed(lambda: sum(1 for _ in api.run(path).beta_scan_history()))
        assert got == n
        t_beta_keys, got = timed(lambda: sum(1 for _ in api.run(path).beta_scan_history(
            keys=["metric_0", "metric_1"], page_size=10_000)))
        assert got == n
        results += [
            ("exported: floor (pyarrow read_table().to_pylist())", t_floor_pq, 1.0, ""),
            ("exported: scan_history(), first (downloads the part)", t_cold,
             t_cold / t_floor_pq, "1000 steps/page"),
            ("exported: scan_history(), cached part", t_warm, t_warm / t_floor_pq, ""),
            ("exported: beta_scan_history()", t_beta, t_beta / t_floor_pq, ""),
            ("exported: beta_scan_history(keys=2, page_size=10000)", t_beta_keys,
             t_beta_keys / t_floor_pq, "HTTP range reads"),
        ]
        storage.close()
    lines = [
        f"{n:,} rows x {k} keys (floats) written in {t_write:.1f} s through file_stream; "
        f"compaction to Parquet finished {t_compact:.1f} s after the run ended "
        f"({size / 1e6:.1f} MB).",
        "",
        "| measurement | rows/s | time / floor | note |",
        "|---|---:|---:|---|",
    ]
    for name, seconds, ratio, note in results:
        lines.append(f"| {name} | {n / seconds:,.0f} | {ratio:.1f}x | {note} |")
    lines += [
        "",
        "On the exported tier the server only serves the file: the SDK reads it with its "
        "own reader (wandb-core + a native Parquet library) and converts each value through "
        "JSON for Python, which is what the ratio to pyarrow measures. Live pages are "
        "GraphQL round trips of 1,000 rows.",
    ]
    body = "\n".join(lines)
    print(body)
    replace_section("History scans (`python -m benchmarks.history_scan`)", body)


if __name__ == "__main__":
    main()
