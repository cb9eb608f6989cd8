"""``tracklet`` commands: parse options, build Settings, call the library."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tracklet.cli.client_commands import login, sync
from tracklet.cli.options import fail_cleanly as _fail_cleanly
from tracklet.cli.options import settings as _settings
from tracklet.cli.options import store_options
from tracklet.cli.query import query_command


@click.group()
@click.version_option(package_name="tracklet")
def cli() -> None:
    """tracklet: a self-hosted, W&B-compatible experiment tracker."""


@cli.command()
@store_options
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default 8080).")
@click.option("--workers", type=int, default=1, show_default=True,
              help="Server processes sharing the port (PostgreSQL, or SQLite on a local disk).")
@_fail_cleanly
def server(data_dir: Path | None, db: str | None, blobs: str | None, host: str | None,
           port: int | None, workers: int) -> None:
    """Run the tracking server (migrations run first)."""
    from tracklet.server.logs import FORMATS, log_config
    from tracklet.server.processes import serve
    from tracklet.storage import Storage

    if workers < 1:
        raise click.UsageError("--workers must be 1 or more")
    settings = _settings(data_dir=data_dir, db=db, blobs=blobs, host=host, port=port)
    if settings.log_format not in FORMATS:
        raise click.UsageError(f"TRACKLET_LOG_FORMAT must be one of {', '.join(FORMATS)}")
    if workers > 1 and settings.blobs_url.startswith("memory:"):
        # Each process would have a store of its own: files uploaded through one would
        # be missing from the others.
        raise click.UsageError("--workers above 1 needs a shared blob store, not memory://")
    storage = Storage.open(settings)
    try:
        created = storage.bootstrap_admin(settings.admin_key or None)
    finally:
        storage.close()
    url = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    if created is not None and settings.admin_key:
        # The key came from the environment: whoever set it knows it, and logs must not.
        click.echo(f"Registered the API key from TRACKLET_ADMIN_KEY for user "
                   f"{created[0].username!r}.\n")
    elif created is not None:
        user, key = created
        click.echo(
            f"Created user {user.username!r} with API key:\n\n    {key}\n\n"
            f"Sign in at {url} with it, or log in from a training script with:\n"
            f"    wandb login --host {url} {key}\n"
            "(shown once; `tracklet key create NAME` issues another)\n"
        )
    click.echo(f"tracklet serving on {url} "
               f"(db {settings.db_url.split('@')[-1]}, blobs {settings.blobs_url}"
               f"{f', {workers} processes' if workers > 1 else ''})")
    json_logs = log_config(settings.log_format, settings.log_level)
    serve(
        settings,
        workers,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # None keeps uvicorn's own text format (its default config, not "no logging").
        **({"log_config": json_logs} if json_logs else {}),
        access_log=False,
        timeout_keep_alive=75,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


@cli.group()
def user() -> None:
    """Manage users and API keys."""


def _read_password(from_stdin: bool) -> str:
    """A new password: the first line of stdin, or typed twice at a prompt."""
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@user.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="Give the user admin rights.")
@click.option("--key", default=None, help="Register this API key instead of generating one.")
@click.option("--email", default=None, help="The user's e-mail address.")
@click.option("--password", "with_password", is_flag=True,
              help="Also set a password for signing in to the web pages (prompted, or the "
                   "first line of stdin when it is not a terminal).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@store_options
@_fail_cleanly
def user_create(name: str, admin: bool, key: str | None, email: str | None,
                with_password: bool, password_stdin: bool, data_dir: Path | None,
                db: str | None, blobs: str | None) -> None:
    """Create user NAME (idempotent) and print an API key for it."""
    from tracklet.storage import Storage, credentials

    password = None
    if with_password or password_stdin:
        password = credentials.validate_password(_read_password(password_stdin))
    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        _user, api_key = storage.create_user(name, admin=admin, key=key, email=email)
        if password is not None:
            credentials.set_password(storage, name, password)
    finally:
        storage.close()
    click.echo(api_key)


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@store_options
@_fail_cleanly
def user_passwd(name: str, password_stdin: bool, data_dir: Path | None, db: str | None,
                blobs: str | None) -> None:
    """Set the password of user NAME (and sign out their browser sessions)."""
    from tracklet.storage import Storage, credentials

    password = credentials.validate_password(_read_password(password_stdin))
    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        credentials.set_password(storage, name, password)
    finally:
        storage.close()
    click.echo(f"password of {name!r} set")


@user.command("key")
@click.argument("name")
@store_options
@_fail_cleanly
def user_key(name: str, data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """Issue a new API key for the existing user NAME (see also `tracklet key create`)."""
    from tracklet.storage import Storage
    from tracklet.storage.metadata import accounts

    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        with storage.db.read() as conn:
            if accounts.get_user_by_name(conn, name) is None:
                raise click.ClickException(f"no user called {name!r}")
        _user, api_key = storage.create_user(name)
    finally:
        storage.close()
    click.echo(api_key)


def user_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--user, whose keys a `tracklet key` command manages."""
    return click.option("--user", "username", default="admin", show_default=True,
                        help="The user whose keys to manage.")(fn)


@cli.group()
def key() -> None:
    """Manage a user's named API keys (revocation takes effect at once)."""


@key.command("list")
@user_option
@store_options
@_fail_cleanly
def key_list(username: str, data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """List the names of a user's keys (never the keys)."""
    import datetime

    from tracklet.storage import Storage, credentials

    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        keys = credentials.list_api_keys(storage, username)
    finally:
        storage.close()
    for k in keys:
        created = datetime.datetime.fromtimestamp(k.created_at, datetime.UTC)
        click.echo(f"{k.name}\t{created:%Y-%m-%d %H:%M:%S} UTC")


@key.command("create")
@click.argument("name")
@user_option
@store_options
@_fail_cleanly
def key_create(name: str, username: str, data_dir: Path | None, db: str | None,
               blobs: str | None) -> None:
    """Create a key called NAME and print it (the only time it is shown)."""
    from tracklet.storage import Storage, credentials

    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        api_key = credentials.create_api_key_for(storage, username, name)
    finally:
        storage.close()
    click.echo(api_key)


@key.command("revoke")
@click.argument("name")
@user_option
@store_options
@_fail_cleanly
def key_revoke(name: str, username: str, data_dir: Path | None, db: str | None,
               blobs: str | None) -> None:
    """Revoke the key called NAME: every server refuses it from its next request on."""
    from tracklet.storage import Storage, credentials

    storage = Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs))
    try:
        credentials.revoke_api_key_for(storage, username, name)
    finally:
        storage.close()
    click.echo(f"revoked {name!r} of {username!r}")


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@store_options
@_fail_cleanly
def db_upgrade(data_dir: Path | None, db: str | None, blobs: str | None) -> None:
    """Apply schema migrations."""
    from tracklet.storage import Storage

    Storage.open(_settings(data_dir=data_dir, db=db, blobs=blobs)).close()
    click.echo("database is up to date")


@cli.command("sync-offline")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="List the offline runs, upload nothing.")
def sync_offline(root: Path, dry_run: bool) -> None:
    """Upload the wandb and tracklet offline runs under ROOT (server and key from
    WANDB_BASE_URL and WANDB_API_KEY). Exits 1 when any run failed to sync."""
    from tracklet.trackers import sync_offline_runs

    results = sync_offline_runs(root, dry_run=dry_run)
    for r in results:
        status = "would sync" if dry_run else ("synced" if r.ok else "FAILED")
        click.echo(f"{status}\t{r.run_id}\t{r.path}")
        if not r.ok:
            click.echo(r.stderr.rstrip(), err=True)
    if not results:
        click.echo(f"no offline runs under {root}")
    if any(not r.ok for r in results):
        sys.exit(1)


cli.add_command(login)
cli.add_command(sync)

from tracklet.cli import teams as _teams  # noqa: E402  (its commands join the group)

_teams.register(cli)

# Commands kept in modules of their own register themselves on ``cli``.
from tracklet.cli import alerts as _alerts  # noqa: E402,F401
from tracklet.cli import housekeeping as _housekeeping  # noqa: E402,F401
from tracklet.cli import transfer as _transfer  # noqa: E402,F401

cli.add_command(query_command)


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli())

