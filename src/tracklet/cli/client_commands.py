"""``tracklet login`` and ``tracklet sync``: the light client's commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("login")
@click.argument("host", required=False)
@click.option("--key", default=None, help="Use this API key instead of asking the browser.")
@click.option("--no-browser", is_flag=True,
              help="Print the URL and read the key from the prompt (headless machines).")
@click.option("--timeout", type=float, default=300.0, show_default=True,
              help="Seconds to wait for the browser.")
def login(host: str | None, key: str | None, no_browser: bool, timeout: float) -> None:
    """Get an API key for the server at HOST (its /authorize page, in the browser) and
    store it for the client. TRACKLET_API_KEY, or WANDB_API_KEY with WANDB_BASE_URL,
    also work without logging in."""
    from tracklet.client.login import LoginError
    from tracklet.client.login import login as do_login

    def prompt(text: str) -> str:
        return str(click.prompt(text.rstrip(": "), hide_input=True))

    try:
        do_login(host, key=key, browser=not no_browser, prompt=prompt, echo=click.echo,
                 timeout=timeout)
    except LoginError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("sync")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--all", "root", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Sync every run under this folder.")
@click.option("--dry-run", is_flag=True, help="Say what would be sent, send nothing.")
@click.option("--host", default=None, help="Server URL (default: the stored login).")
def sync(paths: tuple[Path, ...], root: Path | None, dry_run: bool, host: str | None) -> None:
    """Upload tracklet runs (offline ones, or online ones the server missed) from their run
    directories, keeping their ids. Running it again sends nothing twice. Exits 1 when a run
    could not be synced."""
    from tracklet.client.credentials import LoginRequired, resolve
    from tracklet.client.sync import find_runs, sync_run

    run_dirs = [d for p in (*paths, *([root] if root else [])) for d in find_runs(p)]
    if not run_dirs:
        raise click.ClickException("no tracklet runs found (give run directories or --all DIR)")
    try:
        credentials = resolve(host)
    except LoginRequired as exc:
        raise click.ClickException(str(exc)) from exc
    failed = False
    for run_dir in run_dirs:
        with click.progressbar(length=1, label=run_dir.name, file=sys.stderr) as bar:
            def progress(sent: int, total: int, bar: object = bar) -> None:
                bar.length = max(total, 1)  # type: ignore[attr-defined]
                bar.update(sent - bar.pos)  # type: ignore[attr-defined]

            result = sync_run(run_dir, credentials, dry_run=dry_run, progress=progress)
        if result.error is not None:
            failed = True
            click.echo(f"FAILED\t{result.run_id}\t{run_dir}\t{result.error}")
        elif dry_run:
            click.echo(f"would send {result.rows} rows\t{result.run_id}\t{run_dir}")
        else:
            click.echo(f"synced {result.rows} rows\t{result.run_id}\t{run_dir}")
    if failed:
        sys.exit(1)
