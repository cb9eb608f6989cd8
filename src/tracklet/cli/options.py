"""Options and helpers shared by the ``tracklet`` commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tracklet.config import Settings
from tracklet.errors import TrackletError


def store_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--data-dir, --db and --blobs, shared by every command that opens the store."""

    @click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                  help="Data folder (default ~/.tracklet, or TRACKLET_DATA_DIR).")
    @click.option("--db", default=None, help="Database URL (default SQLite in the data folder).")
    @click.option("--blobs", default=None, help="Blob store URL (default <data-dir>/blobs).")
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


def settings(**overrides: Any) -> Settings:
    """The Settings of a command: the environment, overridden by its options."""
    return Settings.from_env(**overrides)


def fail_cleanly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Domain errors end the command with their message, not a traceback."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except TrackletError as exc:
            raise click.ClickException(exc.message) from exc

    return wrapper
