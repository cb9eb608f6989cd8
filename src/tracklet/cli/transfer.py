"""``tracklet export`` and ``tracklet import``: a deployment's projects to and from an export
folder (the layout is documented in :mod:`tracklet.storage.transfer.layout`)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import click

from tracklet.cli.main import cli
from tracklet.cli.options import fail_cleanly as _fail_cleanly
from tracklet.cli.options import settings as _settings
from tracklet.cli.options import store_options


class ProgressBars:
    """One bar per label: rich's when it is installed, click's otherwise; nothing when the
    output is not a terminal."""

    def __init__(self) -> None:
        self._rich: Any = None
        self._tasks: dict[str, Any] = {}
        self._click: dict[str, Any] = {}
        self._enabled = sys.stderr.isatty()

    def __enter__(self) -> ProgressBars:
        if self._enabled:
            try:
                from rich.progress import Progress  # type: ignore[import-not-found, unused-ignore]
            except ImportError:
                pass
            else:
                self._rich = Progress(transient=False)
                self._rich.start()
        return self

    def __call__(self, what: str, done: int, total: int) -> None:
        if not self._enabled:
            return
        if self._rich is not None:
            if what not in self._tasks:
                self._tasks[what] = self._rich.add_task(what, total=total)
            self._rich.update(self._tasks[what], completed=done, total=total)
            return
        bar = self._click.get(what)
        if bar is None:
            bar = self._click[what] = click.progressbar(length=max(total, 1), label=what,
                                                        file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._rich is not None:
            self._rich.stop()


@cli.command("export")
@click.argument("args", nargs=-1, required=True, metavar="[ENTITY/PROJECT ...] DIR")
@store_options
@_fail_cleanly
def export_command(args: tuple[str, ...], data_dir: Path | None, db: str | None,
                   blobs: str | None) -> None:
    """Export projects (all of them when none is named; ENTITY alone: all of its projects)
    into DIR: runs, history as Parquet, system metrics, console logs, files and artifacts.
    Run it again to bring DIR up to date: what is there already is skipped."""
    from tracklet.storage import Storage
    from tracklet.storage.transfer import export_projects

    *selectors, target = args
    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        with ProgressBars() as bars:
            report = export_projects(storage, Path(target), selectors, progress=bars)
    finally:
        storage.close()
    click.echo(f"exported {report.projects} projects to {target}: {report.runs} runs "
               f"({report.runs_skipped} unchanged), {report.history_rows:,} history rows, "
               f"{report.artifacts} artifact versions, {report.blobs} new blobs "
               f"({report.blob_bytes:,} bytes)")


@cli.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-compact", is_flag=True,
              help="Leave finished runs' history in the live tier (a server compacts it).")
@store_options
@_fail_cleanly
def import_command(source: Path, no_compact: bool, data_dir: Path | None, db: str | None,
                   blobs: str | None) -> None:
    """Import an export folder made by `tracklet export` (run ids kept). Run it again after
    an interruption: what is stored already is skipped."""
    from tracklet.storage import Storage
    from tracklet.storage.transfer import import_folder

    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        with ProgressBars() as bars:
            report = import_folder(storage, source, progress=bars, compact=not no_compact)
    finally:
        storage.close()
    click.echo(f"imported {report.projects} projects from {source}: {report.runs} runs "
               f"({report.runs_skipped} already there), {report.history_rows:,} history rows, "
               f"{report.artifacts} artifact versions, {report.blobs} new blobs")


@cli.command("import-wandb")
@click.argument("path", metavar="ENTITY/PROJECT")
@click.option("--base-url", default=None,
              help="The W&B server to read (default: what wandb itself is configured with, "
                   "e.g. WANDB_BASE_URL, else W&B's cloud).")
@click.option("--api-key", default=None,
              help="Its API key (default: WANDB_API_KEY or ~/.netrc, as wandb reads them).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the fetched export folder here (default: a temporary folder).")
@store_options
@_fail_cleanly
def import_wandb_command(path: str, base_url: str | None, api_key: str | None,
                         keep: Path | None, data_dir: Path | None, db: str | None,
                         blobs: str | None) -> None:
    """Copy project ENTITY/PROJECT from another W&B server (W&B's cloud, W&B Server or
    another tracklet) through wandb's public API, keeping run ids. Run it again to bring
    over the runs added since: runs already here are skipped."""
    import tempfile

    from sqlalchemy import select

    from tracklet.storage import Storage
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata.tables import runs
    from tracklet.storage.transfer import import_folder

    try:
        import wandb
    except ImportError as exc:
        raise click.ClickException("import-wandb reads through the wandb package: "
                                   "pip install wandb") from exc
    from tracklet.importers.wandb_api import fetch_project

    entity, _, project = path.partition("/")
    if not entity or not project:
        raise click.UsageError("give the source project as ENTITY/PROJECT")
    api = wandb.Api(api_key=api_key, overrides={"base_url": base_url} if base_url else {},
                    timeout=60)
    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        with storage.db.read() as conn:
            found = accounts.find_project(conn, entity, project)
            there = set() if found is None else set(conn.execute(
                select(runs.c.name).where(runs.c.project_id == found.id)).scalars())
        with tempfile.TemporaryDirectory() as tmp, ProgressBars() as bars:
            folder = keep or Path(tmp)
            fetched = fetch_project(api, entity, project, folder, skip=there, progress=bars)
            report = import_folder(storage, folder, progress=bars)
    finally:
        storage.close()
    click.echo(f"imported {path}: {report.runs} runs ({fetched.runs_skipped} already here), "
               f"{report.history_rows:,} history rows, {fetched.files} files, "
               f"{report.artifacts} artifact versions")


@cli.command("import-mlflow")
@click.option("--tracking-uri", required=True,
              help="The MLflow tracking server, e.g. http://127.0.0.1:5000.")
@click.option("--experiment", default=None,
              help="The experiment to import (default: every active one).")
@click.option("--entity", default="admin", show_default=True,
              help="The entity the projects (one per experiment) go to.")
@store_options
@_fail_cleanly
def import_mlflow_command(tracking_uri: str, experiment: str | None, entity: str,
                          data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """Copy MLflow experiments (runs, params as config, metrics with their steps as history,
    tags, artifacts as run files) into projects of the same name, keeping MLflow's run ids.
    Run it again to bring over new runs: runs already here are skipped."""
    import tempfile

    from sqlalchemy import select

    from tracklet.importers.mlflow_rest import MlflowClient, fetch_experiment, project_name
    from tracklet.storage import Storage
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata.tables import runs
    from tracklet.storage.transfer import import_folder

    client = MlflowClient(tracking_uri)
    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        experiments = client.experiments(experiment)
        with tempfile.TemporaryDirectory() as tmp, ProgressBars() as bars:
            skipped = fetched = 0
            for exp in experiments:
                with storage.db.read() as conn:
                    found = accounts.find_project(conn, entity, project_name(exp["name"]))
                    there = set() if found is None else set(conn.execute(
                        select(runs.c.name).where(runs.c.project_id == found.id)).scalars())
                got = fetch_experiment(client, exp, entity, Path(tmp), skip=there,
                                       progress=bars)
                skipped += got.runs_skipped
                fetched += got.metric_points
            report = import_folder(storage, Path(tmp), progress=bars)
    finally:
        storage.close()
    click.echo(f"imported {len(experiments)} experiments: {report.runs} runs "
               f"({skipped} already here), {fetched:,} metric points in "
               f"{report.history_rows:,} history rows")
