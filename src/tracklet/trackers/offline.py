"""Offline runs on compute nodes, uploaded later from a machine that reaches the server."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_OFFLINE_DIR = re.compile(r"^offline-run-\d{8}_\d{6}-(?P<id>[A-Za-z0-9_-]+)$")
# tracklet's own: a second process of the same run in the same second adds ".<n>".
_TRACKLET_DIR = re.compile(r"^offline-run-\d{8}_\d{6}-(?P<id>[A-Za-z0-9_-]+)(\.\d+)?$")


@dataclass(frozen=True)
class OfflineRun:
    """An offline run directory and the id the run will keep once synced. ``backend`` is
    "wandb" (a wandb SDK run) or "tracklet" (a light-client run with its journal)."""

    path: Path
    run_id: str
    backend: str = "wandb"


@dataclass(frozen=True)
class SyncResult:
    """What syncing one offline run did: ``ok`` False with the SDK's ``stderr`` on failure.

    A dry run syncs nothing and reports ``ok`` True with empty output.
    """

    path: Path
    run_id: str
    ok: bool
    stderr: str


def find_offline_runs(root: str | Path) -> list[OfflineRun]:
    """Every ``<dir>/wandb/offline-run-*`` directory (wandb) and ``<dir>/tracklet/
    offline-run-*`` directory holding a journal (tracklet) under ``root``, sorted by path."""
    found = []
    for path in sorted(Path(root).rglob("offline-run-*")):
        if not path.is_dir():
            continue
        match = _OFFLINE_DIR.match(path.name)
        if match and path.parent.name == "wandb":
            found.append(OfflineRun(path=path, run_id=match["id"]))
            continue
        match = _TRACKLET_DIR.match(path.name)
        if match and path.parent.name == "tracklet" and (path / "run.journal").is_file():
            found.append(OfflineRun(path=path, run_id=match["id"], backend="tracklet"))
    return found


def sync_offline_runs(root: str | Path, dry_run: bool = False,
                      timeout: float = 3600) -> list[SyncResult]:
    """Upload every offline run under ``root``: wandb runs with ``wandb sync <run dir>``, one
    process per run so each gets its own result; tracklet runs with the light client's
    :func:`tracklet.client.sync_run`. The server and key come from the SDK's settings
    (``WANDB_BASE_URL``, ``WANDB_API_KEY``; for tracklet runs ``TRACKLET_*`` first, then the
    stored login). Runs keep their ids; syncing a run again uploads nothing twice. A wandb
    run counts as synced when ``wandb sync`` exits 0 and leaves its ``.wandb.synced``
    marker; a wandb sync taking longer than ``timeout`` seconds fails."""
    results = []
    for run in find_offline_runs(root):
        if dry_run:
            results.append(SyncResult(path=run.path, run_id=run.run_id, ok=True, stderr=""))
            continue
        if run.backend == "tracklet":
            results.append(_sync_tracklet(run))
        else:
            results.append(_sync_one(run, timeout))
    return results


def _sync_tracklet(run: OfflineRun) -> SyncResult:
    from tracklet.client.credentials import LoginRequired, resolve
    from tracklet.client.sync import sync_run

    try:
        credentials = resolve()
    except LoginRequired as exc:
        return SyncResult(path=run.path, run_id=run.run_id, ok=False, stderr=str(exc))
    result = sync_run(run.path, credentials)
    return SyncResult(path=run.path, run_id=run.run_id, ok=result.ok,
                      stderr=result.error or "")


def _sync_one(run: OfflineRun, timeout: float) -> SyncResult:
    # wandb 0.31 has no --sync-all: the run directories are named one by one.
    try:
        proc = subprocess.run([sys.executable, "-m", "wandb", "sync", str(run.path)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        # wandb sync retries an unreachable server without end.
        return SyncResult(path=run.path, run_id=run.run_id, ok=False,
                          stderr=f"wandb sync did not finish in {exc.timeout:g} s")
    # wandb sync exits 0 even when the server refused the run (a bad key, say), and with
    # WANDB_SILENT says nothing; only the .wandb.synced marker it writes on success tells.
    records = list(run.path.glob("*.wandb"))
    synced = bool(records) and all(r.with_suffix(".wandb.synced").exists() for r in records)
    ok = proc.returncode == 0 and synced
    stderr = proc.stderr
    if not ok and not synced:
        stderr += (f"wandb sync exited {proc.returncode} without marking the run synced\n"
                   + proc.stdout)
    return SyncResult(path=run.path, run_id=run.run_id, ok=ok, stderr=stderr)
