"""``tracklet import-mlflow`` and ``tracklet import-wandb`` against reading the same data
through each source's own client.

MLflow: a tracking server (SQLite, one worker, in benchmarks/.peers/mlflow) filled by
``MlflowClient.log_batch`` with RUNS runs of STEPS steps x 10 metrics; the floor is MLflow's
own client reading every metric's full history of every run (``get_metric_history``, the
calls an import makes), the measured is ``tracklet import-mlflow`` of the experiment into an
empty SQLite deployment. W&B: a tracklet server filled over file_stream with the same runs,
finished and compacted; the floor is ``wandb.Api()`` reading every run's full history
(``scan_history(page_size=1000)``), the measured ``tracklet import-wandb`` of the project.
Both sides are timed as whole commands (interpreter start and imports included on both), and
every imported history row is counted in the target.

    python -m benchmarks.importers [--runs 4] [--steps 2000] [--only mlflow wandb]
        [--quick] [--no-readme]
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import data, harness, load, peers, read

EXPERIMENT = "bench"  # the MLflow driver's experiment
PROJECT = "imported"


def _run(command: list[str], env: dict[str, str] | None = None,
         timeout: float = 3600) -> tuple[float, str]:
    """(wall seconds, stdout) of a command that must succeed."""
    t0 = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=str(harness.ROOT.parent))
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} exited {proc.returncode}: "
                           f"{(proc.stderr or proc.stdout).strip()[-600:]}")
    return seconds, proc.stdout


def imported_rows(data_dir: Path, project: str) -> int:
    """History rows of every run of ``admin/project`` in the deployment at ``data_dir``."""
    from sqlalchemy import select

    from tracklet.config import Settings
    from tracklet.storage import Storage
    from tracklet.storage.history.read.tiers import open_history
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata.tables import runs

    storage = Storage.open(Settings(data_dir=data_dir), migrate=False)
    try:
        with storage.db.read() as conn:
            found = accounts.find_project(conn, harness.ENTITY, project)
            if found is None:
                return 0
            ids = list(conn.execute(select(runs.c.id).where(
                runs.c.project_id == found.id)).scalars())
        total = 0
        for run_id in ids:
            with open_history(storage, run_id) as view:
                total += sum(1 for _ in view.rows())
        return total
    finally:
        storage.close()


def _tracklet(*args: str) -> list[str]:
    return [sys.executable, "-m", "tracklet", *args]


def measure_mlflow(base: Path, runs: int, steps: int, table: harness.Table) -> None:
    """Fill an MLflow server, read it with MLflow's client, import it."""
    py = peers.peer_python("mlflow")
    server = peers.start_mlflow(py, base / "mlflow")
    try:
        env = {"MLFLOW_TRACKING_URI": server.url}
        filled = peers.drive(py, "mlflow_driver.py", ["ingest", "--runs", str(runs), "--steps",
                                                     str(steps), "--batch", "100"], env)
        if filled["errors"]:
            raise RuntimeError(f"MLflow ingest failed: {filled['errors']}")
        ids = ",".join(filled["run_ids"])
        driver = str(peers.DRIVERS / "mlflow_driver.py")
        floor_s, out = _run([str(py), driver, "read-all", "--runs", str(runs), "--steps",
                             str(steps), "--run-ids", ids], env)
        floor = json.loads(out.strip().splitlines()[-1])
        target = base / "mlflow-target"
        secs, _ = _run(_tracklet("import-mlflow", "--tracking-uri", server.url,
                                 "--experiment", EXPERIMENT, "--data-dir", str(target)))
    finally:
        server.stop()
    rows = imported_rows(target, EXPERIMENT)
    _row(table, f"import-mlflow ({peers.peer_version(py, 'mlflow')} server)", runs, steps,
         secs, floor_s, "MlflowClient.get_metric_history, every metric of every run",
         rows, bool(floor["ok"]))


def measure_wandb(base: Path, runs: int, steps: int, table: harness.Table) -> None:
    """Fill a tracklet server (the W&B source), read it with wandb.Api(), import it."""
    source = harness.start_server(base / "wandb-source")
    try:
        names = asyncio.run(_fill(source, runs, steps))
        read.wait_exported(source, PROJECT, names, steps)
        workdir = base / "wandb-client"
        workdir.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
        env.update({"WANDB_DIR": str(workdir), "WANDB_CONFIG_DIR": str(workdir / ".config"),
                    "WANDB_CACHE_DIR": str(workdir / "cache"), "WANDB_SILENT": "true",
                    "WANDB_DATA_DIR": str(workdir / "data"), "WANDB_ERROR_REPORTING": "false",
                    "NETRC": str(workdir / ".netrc"), "WANDB_BASE_URL": source.url,
                    "WANDB_API_KEY": source.key})
        script = ("import json, wandb\n"
                  "api = wandb.Api(timeout=120)\n"
                  f"rows = sum(len(list(r.scan_history(page_size=1000))) for r in "
                  f"api.runs('{harness.ENTITY}/{PROJECT}'))\n"
                  "print(json.dumps({'rows': rows}))\n")
        floor_s, out = _run([sys.executable, "-c", script], {**env, "PYTHONPATH": ""})
        floor_rows = json.loads(out.strip().splitlines()[-1])["rows"]
        target = base / "wandb-target"
        secs, _ = _run(_tracklet("import-wandb", f"{harness.ENTITY}/{PROJECT}", "--base-url",
                                 source.url, "--api-key", source.key, "--data-dir",
                                 str(target)), env)
    finally:
        source.stop()
    rows = imported_rows(target, PROJECT)
    _row(table, "import-wandb (a tracklet server as the source)", runs, steps, secs, floor_s,
         "wandb.Api() scan_history(page_size=1000) of every run", rows,
         floor_rows == runs * steps)


async def _fill(server: harness.Server, runs: int, steps: int) -> list[str]:
    result = await load.ingest(server, PROJECT, runs, steps, lpr=min(steps, 1_000),
                               finish=True)
    return result.names


def _row(table: harness.Table, label: str, runs: int, steps: int, secs: float,
         floor_s: float, floor_label: str, rows: int, floor_ok: bool) -> None:
    want = runs * steps
    table.add(label, want, want / secs, secs, floor_label, want / floor_s, floor_s,
              harness.ratio(secs, floor_s),
              "yes" if rows == want and floor_ok else f"NO: {rows:,} rows imported")
    print(f"  {label}: {want / secs:,.0f} rows/s, client read {want / floor_s:,.0f} rows/s",
          flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m benchmarks.importers``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = harness.parser("benchmarks.importers", __doc__.splitlines()[0] if __doc__ else "")
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--steps", type=int, default=2_000)
    p.add_argument("--only", nargs="*", choices=["mlflow", "wandb"], default=None)
    args = p.parse_args(argv)
    runs, steps = (2, 200) if args.quick else (args.runs, args.steps)
    only = set(args.only or ["mlflow", "wandb"])
    table = harness.Table(
        f"importers: {runs} runs x {steps:,} steps x {data.N_METRICS} metrics",
        ["import", "rows", "rows/s", "seconds", "source's own client reading the same data",
         "client rows/s", "client seconds", "import / client time", "every row imported"])
    with harness.workdir(args.keep) as base:
        if "mlflow" in only:
            measure_mlflow(base, runs, steps, table)
        if "wandb" in only:
            measure_wandb(base, runs, steps, table)
    table.notes += [
        "rows: history rows (one per step, 10 metrics each); seconds: the whole command, "
        "interpreter start and imports included, as for the client's read.",
        "An import also writes what it read (an export folder, then the target's database "
        "and Parquet parts) and, for W&B, reads system metrics, files and artifacts too.",
        f"Load averages (1/5/15 min) at the end: {'/'.join(f'{x:.1f}' for x in os.getloadavg())}.",
    ]
    harness.report("importers", "Importers against their source's own client", [table],
                   harness.command_line("benchmarks.importers", argv), args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
