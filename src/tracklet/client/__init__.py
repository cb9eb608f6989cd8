"""The tracklet light client: ``tracklet.init``, ``run.log``, offline runs and sync.

Importing it imports no server code (starlette, sqlalchemy, pyarrow) and no numpy, torch
or jax; arrays are recognised by type and numpy is loaded when the first one is logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tracklet.client.artifacts import ArtifactVersion
from tracklet.client.credentials import Credentials, LoginRequired
from tracklet.client.run import Config, Run, RunError, Summary, current_run, init
from tracklet.client.sync import RunSync, find_runs, sync_run
from tracklet.client.tensors import load_tensor
from tracklet.client.values import Tensor

__all__ = [
    "ArtifactVersion",
    "Config",
    "Credentials",
    "LoginRequired",
    "Run",
    "RunError",
    "RunSync",
    "Summary",
    "Tensor",
    "alert",
    "current_run",
    "find_runs",
    "finish",
    "init",
    "load_tensor",
    "log",
    "log_artifact",
    "sync_run",
    "use_artifact",
]


def _run() -> Run:
    run = current_run()
    if run is None:
        raise RunError("no current run: call tracklet.init() first")
    return run


def log(data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``run.log`` on the current run."""
    _run().log(data, step=step, commit=commit)


def alert(title: str, text: str, level: Any = "INFO",
          wait_duration: float | None = None) -> None:
    """``run.alert`` on the current run."""
    _run().alert(title, text, level=level, wait_duration=wait_duration)


def log_artifact(path: str | Path, name: str | None = None, type: str = "unspecified",  # noqa: A002
                 aliases: list[str] | tuple[str, ...] | None = None) -> str:
    """``run.log_artifact`` on the current run."""
    return _run().log_artifact(path, name=name, type=type, aliases=aliases)


def use_artifact(name: str) -> ArtifactVersion:
    """``run.use_artifact`` on the current run."""
    return _run().use_artifact(name)


def finish(exit_code: int = 0, timeout: float | None = None) -> None:
    """``run.finish`` on the current run (nothing when there is none)."""
    run = current_run()
    if run is not None:
        run.finish(exit_code=exit_code, timeout=timeout)
