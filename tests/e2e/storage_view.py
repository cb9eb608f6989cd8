"""Exact read-back of what a live server stored: run row, history, console, files and blobs.

E2e tests compare these against what the training script logged, value for value, next to
what ``wandb.Api()`` returns.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.e2e.conftest import LiveServer
from tracklet.domain.records import Run, RunFile
from tracklet.storage import Storage
from tracklet.storage.history.jsonline import loads
from tracklet.storage.history.live.read import (
    console_lines,
    count_lines,
    event_lines,
    history_counts,
)
from tracklet.storage.history.read.tiers import open_history
from tracklet.storage.metadata import runs as run_repo
from tracklet.storage.metadata.tables import events

_CONSOLE_PREFIX = re.compile(r"^(ERROR )?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)? ")


@dataclass
class StoredRun:
    """One run as the store holds it."""

    run: Run
    history_raw: list[str]
    history: list[dict[str, Any]]
    history_steps: list[int | None]
    events: list[dict[str, Any]]
    console_raw: list[tuple[int, str]]
    files: dict[str, RunFile]
    blob_bytes: dict[str, bytes]

    @property
    def config(self) -> dict[str, Any]:
        """The stored config unwrapped from ``{"value": ...}``, without ``_wandb``."""
        raw = loads(self.run.config)
        return {k: v["value"] for k, v in raw.items() if k != "_wandb"}

    @property
    def summary(self) -> dict[str, Any]:
        """The stored summary object."""
        value = loads(self.run.summary)
        assert isinstance(value, dict)
        return value

    @property
    def console(self) -> list[str]:
        """Console lines without their timestamps; stderr lines start with ``ERROR ``."""
        out = []
        for _, text in self.console_raw:
            m = _CONSOLE_PREFIX.match(text)
            assert m, f"console line without a timestamp: {text!r}"
            out.append(("ERROR " if m.group(1) else "") + text[m.end():])
        return out


def user_keys(row: dict[str, Any]) -> dict[str, Any]:
    """A history row without the SDK's own ``_step``/``_runtime``/``_timestamp`` keys."""
    return {k: v for k, v in row.items() if not k.startswith("_")}


@contextmanager
def opened(server: LiveServer) -> Iterator[Storage]:
    """The server's store, opened by the test; closed afterwards."""
    storage = server.storage()
    try:
        yield storage
    finally:
        storage.close()


def stored_run(server: LiveServer, entity: str, project: str, name: str) -> StoredRun:
    """Everything stored for run ``entity/project/name`` (which must exist)."""
    with opened(server) as storage:
        with storage.db.read() as conn:
            run = run_repo.get_run_by_path(conn, entity, project, name)
            event_rows = event_lines(conn, run.id)
            console = console_lines(conn, run.id)
            files = {f.name: f for f in run_repo.list_run_files(conn, run.id)}
        # Both tiers: a finished run's rows move from the database to Parquet exports.
        with open_history(storage, run.id) as view:
            rows = list(view.rows())
        blobs = {}
        for name_, f in files.items():
            assert f.blob_key is not None
            blobs[name_] = b"".join(storage.blobs.open(f.blob_key))
    return StoredRun(
        run=run,
        history_raw=[r.text for r in rows],
        history=[r.data for r in rows],
        history_steps=[r.step for r in rows],
        events=[loads(e) for e in event_rows],
        console_raw=console,
        files=files,
        blob_bytes=blobs,
    )


def line_count(server: LiveServer, table: Any, run_id: int) -> int:
    """Stored rows of ``events``/``console`` for one run."""
    with opened(server) as storage, storage.db.read() as conn:
        return count_lines(conn, table, [run_id]).get(run_id, 0)


def history_count(server: LiveServer, run_id: int) -> int:
    """Stored history rows of one run."""
    with opened(server) as storage, storage.db.read() as conn:
        return history_counts(conn, [run_id]).get(run_id, 0)


def events_count(server: LiveServer, run_id: int) -> int:
    """Stored system-metric rows of one run."""
    return line_count(server, events, run_id)


def md5_b64(data: bytes) -> str:
    """The digest W&B reports for a file: base64 of its MD5."""
    import base64

    return base64.b64encode(hashlib.md5(data).digest()).decode()


def run_path(proc: subprocess.CompletedProcess[str]) -> tuple[str, str, str]:
    """(entity, project, run id) from a script's ``RUN <entity> <project> <id>`` line."""
    for line in proc.stdout.splitlines():
        if line.startswith("RUN "):
            _, entity, project, run_id = line.split()
            return entity, project, run_id
    raise AssertionError(f"script printed no RUN line:\n{proc.stdout}\n{proc.stderr[-3000:]}")
