"""The runs every workload writes: their names, their creation over the wire, and how many
history rows storage holds for them (what the load and soak checks compare against)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from benchmarks.wire import Wire


def run_name(i: int) -> str:
    """The name of run number ``i``."""
    return f"r{i:06d}"


async def create_runs(wire: Wire, project: str, names: Sequence[str], parallel: int = 8) -> None:
    """UpsertBucket for every run, a few at a time (the first ones of a new project race
    for it, as a sweep's do: tests/e2e/test_backends.py holds that on PostgreSQL)."""
    sem = asyncio.Semaphore(parallel)

    async def one(name: str) -> None:
        async with sem:
            await wire.upsert_run(project, name)

    await asyncio.gather(*(one(n) for n in names))


def stored_counts(storage: Any, run_ids: Sequence[int]) -> dict[int, int]:
    """How many history rows each run holds, over both tiers (live rows and exports)."""
    from tracklet.storage.history.read.tiers import open_history

    out: dict[int, int] = {}
    for run_id in run_ids:
        with open_history(storage, run_id) as view:
            n = view.count()
            out[run_id] = n if n is not None else sum(1 for _ in view.rows())
    return out
