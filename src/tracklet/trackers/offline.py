"""Offline runs on compute nodes, uploaded later from a machine that reaches the server."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_OFFLINE_DIR = re.compile(r"^offline-run-\d{8}_\d{6}-(?P<id>[A-Za-z0-9_-]+)$")


@dataclass(frozen=True)
class OfflineRun:
    """A wandb offline run directory and the id the run will keep once synced."""

    path: Path
    run_id: str


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
    """Every ``<dir>/wandb/offline-run-*`` directory under ``root``, sorted by path."""
    found = []
    for path in sorted(Path(root).rglob("offline-run-*")):
        match = _OFFLINE_DIR.match(path.name)
        if match and path.is_dir() and path.parent.name == "wandb":
            found.append(OfflineRun(path=path, run_id=match["id"]))
    return found


def sync_offline_runs(root: str | Path, dry_run: bool = False,
                      timeout: float = 3600) -> list[SyncResult]:
    """Upload every offline run under ``root`` with ``wandb sync <run dir>``, one process per
    run so each gets its own result. The server and key come from the SDK's settings
    (``WANDB_BASE_URL``, ``WANDB_API_KEY``). Runs keep their ids; syncing a run again
    uploads nothing twice. A run counts as synced when ``wandb sync`` exits 0 and leaves its
    ``.wandb.synced`` marker; a sync taking longer than ``timeout`` seconds fails."""
    results = []
    for run in find_offline_runs(root):
        if dry_run:
            results.append(SyncResult(path=run.path, run_id=run.run_id, ok=True, stderr=""))
            continue
        results.append(_sync_one(run, timeout))
    return results


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
