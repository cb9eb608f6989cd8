"""Shared checks of the client tests: the journal's rows, waiting for the uploader."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from tracklet.client import Run
from tracklet.client import journal as jr

ENTITY = "admin"


def project() -> str:
    """A project of the test's own."""
    return "client-" + uuid.uuid4().hex[:8]


def journal_rows(run_dir: Path) -> list[dict[str, Any]]:
    """The history rows in a run's journal, parsed."""
    return [json.loads(line) for line in jr.replay(run_dir / jr.JOURNAL_NAME).history]


def wait_acked(run: Run, rows: int, timeout: float = 60) -> None:
    """Wait until the server confirmed ``rows`` history rows of a running run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        uploader = run._uploader
        sender = uploader.sender if uploader else None
        if sender is not None and sender.acked >= rows and not uploader.queue:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server did not confirm {rows} rows in {timeout}s")
