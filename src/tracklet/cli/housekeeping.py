"""``tracklet gc``: blob garbage collection from the command line (servers also run it
every ``TRACKLET_BLOB_GC_INTERVAL_S``)."""

from __future__ import annotations

from pathlib import Path

import click

from tracklet.cli.main import cli
from tracklet.cli.options import fail_cleanly as _fail_cleanly
from tracklet.cli.options import settings as _settings
from tracklet.cli.options import store_options


@cli.command("gc")
@click.option("--dry-run", is_flag=True, help="List what would be deleted, delete nothing.")
@click.option("--grace", "grace_s", type=float, default=None,
              help="Keep unreferenced blobs younger than this many seconds "
                   "(default TRACKLET_BLOB_GC_GRACE_S, 24 h).")
@click.option("--verbose", "-v", is_flag=True, help="Print every collected key.")
@store_options
@_fail_cleanly
def gc_command(dry_run: bool, grace_s: float | None, verbose: bool, data_dir: Path | None,
               db: str | None, blobs: str | None) -> None:
    """Delete blobs no run file, artifact version or history export references (any more),
    once they are older than the grace period; safe while servers run."""
    from tracklet.storage import Storage, blob_gc

    settings = _settings(data_dir=data_dir, db=db, blobs=blobs)
    storage = Storage.open(settings)
    try:
        report = blob_gc.collect(storage, settings.blob_gc_grace_s if grace_s is None
                                 else grace_s, dry_run=dry_run)
    finally:
        storage.close()
    if verbose or dry_run:
        for key in report.keys:
            click.echo(key)
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {report.collected} blobs ({report.collected_bytes:,} bytes); kept "
               f"{report.referenced} referenced and {report.young} younger than the grace "
               f"period, of {report.scanned}")


@cli.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@store_options
@_fail_cleanly
def backup_command(target: Path, data_dir: Path | None, db: str | None,
                   blobs: str | None) -> None:
    """Back a deployment up into TARGET while it runs: the database (SQLite's online
    backup, or pg_dump for PostgreSQL), every blob (a local folder's or an S3 bucket's) and
    the server secret. Again into the same TARGET copies only new blobs."""
    from tracklet.storage.backup import backup

    report = backup(_settings(data_dir=data_dir, db=db, blobs=blobs), target)
    click.echo(f"backed up to {target}: database {report.db_bytes:,} bytes, "
               f"{report.blobs} new blobs ({report.blob_bytes:,} bytes)"
               f"{', the server secret' if report.secret else ''}")


@cli.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@store_options
@_fail_cleanly
def restore_command(source: Path, data_dir: Path | None, db: str | None,
                    blobs: str | None) -> None:
    """Restore a `tracklet backup` folder into a deployment without a database yet (an
    empty PostgreSQL database for a PostgreSQL backup; stop its servers first): blobs and
    secret, then the database. Migrations run at its next start."""
    from tracklet.storage.backup import restore

    report = restore(_settings(data_dir=data_dir, db=db, blobs=blobs), source)
    click.echo(f"restored {source}: database {report.db_bytes:,} bytes, {report.blobs} "
               f"blobs ({report.blob_bytes:,} bytes)"
               f"{', the server secret' if report.secret else ''}")
