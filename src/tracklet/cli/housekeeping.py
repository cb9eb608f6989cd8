"""``tracklet gc``: blob garbage collection from the command line (servers also run it
every ``TRACKLET_BLOB_GC_INTERVAL_S``)."""

from __future__ import annotations

from pathlib import Path

import click

from tracklet.cli.main import _fail_cleanly, _settings, cli, store_options


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
