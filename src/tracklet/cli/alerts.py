"""``tracklet alerts``: an entity's own alert webhook (its runs' ``run.alert`` calls are sent
there as well as to the server-wide destinations)."""

from __future__ import annotations

from pathlib import Path

import click

from tracklet.cli.main import cli
from tracklet.cli.options import fail_cleanly, settings, store_options


@cli.group("alerts")
def alerts() -> None:
    """Where alerts go, per entity (the server-wide ones are TRACKLET_ALERT_WEBHOOK_URL and
    TRACKLET_SMTP_*)."""


@alerts.command("set-webhook")
@click.argument("entity")
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Remove the entity's webhook.")
@store_options
@fail_cleanly
def set_webhook(entity: str, url: str | None, clear: bool, data_dir: Path | None,
                db: str | None, blobs: str | None) -> None:
    """Send the alerts of ENTITY's runs to the webhook URL (Slack-compatible JSON)."""
    from tracklet.storage import Storage
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata import alerts as repo

    if clear == (url is not None):
        raise click.UsageError("give either a URL or --clear")
    storage = Storage.open(settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        with storage.db.write() as conn:
            repo.set_entity_webhook(conn, accounts.get_entity(conn, entity).id, url)
    finally:
        storage.close()
    click.echo(f"alerts of {entity!r} no longer go to a webhook of its own" if url is None
               else f"alerts of {entity!r} go to its webhook")


@alerts.command("show")
@click.argument("entity")
@store_options
@fail_cleanly
def show(entity: str, data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """Print ENTITY's own alert webhook (or that it has none)."""
    from tracklet.storage import Storage
    from tracklet.storage.metadata import accounts
    from tracklet.storage.metadata import alerts as repo

    storage = Storage.open(settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        with storage.db.read() as conn:
            url = repo.entity_webhook(conn, accounts.get_entity(conn, entity).id)
    finally:
        storage.close()
    click.echo(url or f"{entity!r} has no alert webhook of its own")
